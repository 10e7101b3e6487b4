// Being written: mounts this feature into its slot.
export function mount(slot, site) {}
