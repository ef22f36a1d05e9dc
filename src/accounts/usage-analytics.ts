/** Usage of one key on one model on one UTC day. */
export interface UsageRow {
  readonly keyId: string;
  readonly model: string;
  /** `YYYY-MM-DD` (UTC). */
  readonly day: string;
  readonly jobs: number;
  /** Images of completed jobs. */
  readonly images: number;
  /** Credits spent: charges of jobs that were not refunded. */
  readonly credits: number;
  readonly failures: number;
  /** Mean engine time of completed jobs, in seconds; null when none completed. */
  readonly meanGenerationTime: number | null;
}

export interface UsageQuery {
  /** Epoch ms, inclusive. */
  readonly from: number;
  /** Epoch ms, exclusive. */
  readonly to: number;
  readonly keyId?: string;
  readonly model?: string;
}

/** Aggregates jobs per key, model and day. Implemented by `src/store/` (SQL per dialect). */
export interface UsageAnalytics {
  usage(query: UsageQuery): Promise<UsageRow[]>;
}
