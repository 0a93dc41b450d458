/** A domain program that fails while starting, in the way its args say. */
export default async function main(_dom: unknown, args: { how: "throw" | "import" }): Promise<void> {
  if (args.how === "import") await import(`./no-such-${"module"}.js`);
  throw new Error("refusing to boot");
}
