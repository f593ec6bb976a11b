"""Health: thresholds (the workflow document's tables), verdicts and rollback decisions."""
