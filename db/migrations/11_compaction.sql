-- Compacted segments: when sealed large files leave more than MAX_SEGMENTS segments, the smallest are
-- merged into one (pipeline/transform/compact.ts), numbered from this sequence as negative numbers
-- (a large file's own segment is its ingestion id; segment 0 is the incremental path's).
CREATE SEQUENCE silver.compacted_segments;
