-- A chunk's data is LZ4-compressed already and its keys are random: PostgreSQL's own
-- compression of large values only spends time trying (a sixth of an import of a million
-- stops). Both are stored out of line, as they are.
ALTER TABLE stop_chunks
    ALTER COLUMN keys SET STORAGE EXTERNAL,
    ALTER COLUMN data SET STORAGE EXTERNAL;
