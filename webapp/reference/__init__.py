"""Reference lists staff maintain: activity kinds and programmes."""
