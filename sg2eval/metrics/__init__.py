"""Pure metric functions on features: FID, KID, precision/recall. No file I/O; each returns a Result."""
