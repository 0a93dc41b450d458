import { endianness } from "node:os";
import { assert } from "./assert.js";

/**
 * Xen's shared structures are native-endian, little-endian on every platform Xen runs
 * on; pvnet reads them through typed arrays, which use the host's byte order. So the host
 * must be little-endian, checked once when this module loads.
 */
export const HOST_IS_LE = endianness() === "LE";
assert(HOST_IS_LE, "pvnet needs a little-endian host: typed-array views carry Xen's x86 layouts");
