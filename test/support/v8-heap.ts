/**
 * The heap limit V8 reports (v8.getHeapStatistics().heap_size_limit, in MB) for pinned
 * heap flags: the old space plus the young generation, three semi-spaces (64-bit Node 20+).
 * Both flags must be present.
 */
export function heapLimitMb(flags: readonly string[]): number {
  const value = (name: string) => {
    const flag = flags.find((f) => f.startsWith(`--${name}=`));
    if (!flag) throw new Error(`heapLimitMb: no --${name} in ${flags.join(' ')}`);
    return Number(flag.slice(name.length + 3));
  };
  return value('max-old-space-size') + 3 * value('max-semi-space-size');
}
