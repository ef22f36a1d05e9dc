/**
 * The last `capacity` tensors a multistep scheduler remembers (model outputs, derivatives), newest
 * first. Slots are recycled, so recording allocates nothing once the ring is full.
 */
export class History {
  private readonly capacity: number;
  private slots: Float32Array[] = [];
  private newest = -1;
  /** How many entries are stored (at most `capacity`). */
  size = 0;

  constructor(capacity: number) {
    this.capacity = capacity;
  }

  /** Makes room for a new newest entry and returns its slot to be filled by the caller. */
  push(length: number): Float32Array {
    if (this.slots[0] !== undefined && this.slots[0].length !== length) {
      this.slots = [];
      this.clear();
    }
    this.newest = (this.newest + 1) % this.capacity;
    this.slots[this.newest] ??= new Float32Array(length);
    this.size = Math.min(this.size + 1, this.capacity);
    return this.slots[this.newest]!;
  }

  /** The `age`-th newest entry (0 = newest); `age` must be below `size`. */
  get(age: number): Float32Array {
    if (age >= this.size) throw new Error(`History holds ${this.size} entries, asked for #${age}`);
    return this.slots[(this.newest - age + this.capacity) % this.capacity]!;
  }

  /** Forgets all entries; the slots are kept for reuse. */
  clear(): void {
    this.size = 0;
    this.newest = -1;
  }
}
