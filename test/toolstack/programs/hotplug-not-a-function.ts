/** A hotplug module whose default export is no function. */
export default 42;
