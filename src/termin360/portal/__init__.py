"""The online booking portal (betty24 in the source document): practices publish online
calendars, patients search, register, book and cancel. Its own deployment and database;
it knows nothing of the practice calendar (import-linter keeps it so)."""
