-- The case series read model grows by addition (issue 6, load): a new response's values are put
-- into the stored series instead of rebuilding it from the case's whole history. That is exact
-- only for a response later than everything the series was built from, so the series records
-- the latest `submitted_at` it holds. NULL (every row written before this migration): not
-- known, so the next change to the case rebuilds its series, which sets it.
ALTER TABLE case_series ADD COLUMN series_through BIGINT;
