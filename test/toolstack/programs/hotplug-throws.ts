/** A hotplug module that refuses every vif. */
export default function hotplug(): void {
  throw new Error("no wire for this vif");
}
