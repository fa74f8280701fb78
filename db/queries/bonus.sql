-- The challenge's two questions, answered from silver.
-- Run against a loaded database:  psql "$DATABASE_URL" -f db/queries/bonus.sql
-- Sources: silver.trips joined to silver.regions and silver.datasources (names live once there).
-- Every ORDER BY ends in a unique key, so the answers never depend on the plan or on row order.
-- Cost: each statement reads silver.trips once (no index on region_id: counting trips per region is
-- a full scan anyway). At scale the counts could come from gold.weekly_regions instead, which holds
-- the same totals (gold equals silver) in a few rows per region and week.


-- The two most commonly appearing regions, which both readings of Q1 start from: one row per region,
-- most trips first; regions with equal trip counts are taken by name (alphabetical). A temporary view
-- lives as long as the session that runs this file.
CREATE OR REPLACE TEMP VIEW top_regions AS
SELECT rt.region_id, r.name AS region, rt.trips
FROM (
  SELECT t.region_id, count(*) AS trips
  FROM silver.trips AS t
  GROUP BY t.region_id
) AS rt
JOIN silver.regions AS r ON r.id = rt.region_id
ORDER BY rt.trips DESC, r.name
LIMIT 2;


-- Q1a. "From the two most commonly appearing regions, which is the latest datasource?"
-- Grain: one row (the answer).
-- Reading: take the two regions with the most trips; among all trips of those two regions together,
-- the latest one (greatest trip_time); the answer is that trip's datasource.
-- Tie-breaks: regions with equal trip counts are taken by name (alphabetical); trips with the same
-- trip_time by datasource name, then ingestion_id, then line_no (the primary key), all ascending.
WITH latest AS (
  SELECT d.name AS datasource, tr.region, t.trip_time
  FROM silver.trips AS t
  JOIN top_regions AS tr ON tr.region_id = t.region_id
  JOIN silver.datasources AS d ON d.id = t.datasource_id
  ORDER BY t.trip_time DESC, d.name, t.ingestion_id, t.line_no
  LIMIT 1
)

SELECT
  latest.datasource,
  latest.region,
  latest.trip_time,
  (SELECT string_agg(format('%s (%s trips)', region, trips), ', ' ORDER BY trips DESC, region) FROM top_regions) AS among_regions
FROM latest;


-- Q1b. The same question read per region: for each of the two most common regions, the datasource
-- of that region's latest trip.
-- Grain: one row per region among the two with the most trips, most trips first.
-- Tie-breaks: as in Q1a (regions by name; trips by datasource name, ingestion_id, line_no).
WITH latest_per_region AS (
  SELECT DISTINCT ON (t.region_id) t.region_id, d.name AS datasource, t.trip_time
  FROM silver.trips AS t
  JOIN top_regions AS tr ON tr.region_id = t.region_id
  JOIN silver.datasources AS d ON d.id = t.datasource_id
  ORDER BY t.region_id, t.trip_time DESC, d.name, t.ingestion_id, t.line_no
)

SELECT tr.region, tr.trips, l.datasource, l.trip_time AS latest_trip_time
FROM top_regions AS tr
JOIN latest_per_region AS l ON l.region_id = tr.region_id
ORDER BY tr.trips DESC, tr.region;


-- Q2. "What regions has the "cheap_mobile" datasource appeared in?"
-- Grain: one row per region with at least one stored trip from the datasource named cheap_mobile,
-- sorted by name. No row at all when the datasource is unknown or has no trips.
-- Tie-breaks: none needed (region names are unique).
SELECT r.name AS region
FROM silver.regions AS r
WHERE EXISTS (
  SELECT 1
  FROM silver.trips AS t
  JOIN silver.datasources AS d ON d.id = t.datasource_id
  WHERE t.region_id = r.id
    AND d.name = 'cheap_mobile'
)
ORDER BY r.name;
