import type { Domain } from "../hv/domain.js";
import type { GuestArgs } from "../toolstack/host-proto.js";

export default async function main(_dom: Domain, _args: GuestArgs): Promise<void> {}
