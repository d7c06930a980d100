-- The analysis store's cells, one row per month and district instead of one per cell: an
-- import then writes a few hundred rows rather than tens of thousands (the cells of a million
-- stops were 59,000 rows, and writing them was a sixth of the import), and the analyses read
-- as few.
--
-- stops  the month and district's stops (the sum of the cells' first counts);
-- cells  a line per stop type, race, sex and age group with stops, each
--          stop_type,subject_race,subject_sex,age_group,stops,searches,searches_with_outcome,
--          hits,discretionary_searches,discretionary_hits,frisks,arrests,citations,warnings
--        with the names and counts stop_cells had ('' for a sex, age group or stop type not
--        recorded; the names hold no commas), lines ending in a line feed except the last.
CREATE TABLE stop_month_cells (
    agency_id BIGINT NOT NULL REFERENCES agencies (id),
    month     TEXT NOT NULL,
    district  TEXT NOT NULL,
    stops     BIGINT NOT NULL,
    cells     TEXT NOT NULL,
    PRIMARY KEY (agency_id, month, district)
);

INSERT INTO stop_month_cells (agency_id, month, district, stops, cells)
SELECT agency_id, month, district, CAST(SUM(stops) AS BIGINT), string_agg(
    concat_ws(',', stop_type, subject_race, subject_sex, age_group, stops, searches,
              searches_with_outcome, hits, discretionary_searches, discretionary_hits, frisks,
              arrests, citations, warnings),
    E'\n' ORDER BY stop_type, subject_race, subject_sex, age_group)
FROM stop_cells
GROUP BY agency_id, month, district;

DROP TABLE stop_cells;
