"""Plain, immutable, picklable results: snapshots, reports, fates, text diffs, the fates
document. Never imports torch."""
