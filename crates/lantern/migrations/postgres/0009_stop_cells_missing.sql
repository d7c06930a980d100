-- Rates follow the Stanford Open Policing Project: each is over the stops that recorded its
-- field (R's mean(x, na.rm = TRUE)), so the analysis store counts, per cell, the stops that
-- did not record each field. The cells text gains six counts after warnings:
--   search_missing, frisk_missing, arrest_missing, citation_missing, warning_missing,
--   discretionary_missing_result (discretionary searches without contraband_found).
--
-- stop_month_cells.format  the cells text's format: 1 for rows written before, 2 now. Cells of
--                          format 1 counted a missing value as "no" and cannot be converted;
--                          when the database is migrated, every agency with such rows has its
--                          cells counted again from its stored chunks (transparency::store::
--                          rebuild_stale_cells), in one transaction per agency.
-- stop_imports.derived_from_outcome
--                          which of arrest_made, citation_issued, warning_issued the import
--                          counted from outcome because its file had no such column
--                          (comma-separated, '' for none); NULL for imports before this
--                          version (the rebuild infers it from their stops and records it).
ALTER TABLE stop_month_cells ADD COLUMN format BIGINT NOT NULL DEFAULT 1;
ALTER TABLE stop_imports ADD COLUMN derived_from_outcome TEXT;
