"""Photos: the pure processing pipeline and the storage behind an interface."""
