"""The audit log viewer: who changed what, filtered by person, unit, action and date."""
