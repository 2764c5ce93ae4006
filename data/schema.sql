-- Marquee store, schema version 1 (docs/schema.md describes every column).
-- Ids are VARCHAR so users can bring any id scheme; timestamps are UTC.
CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR);

-- entities
CREATE TABLE IF NOT EXISTS users (
    user_id VARCHAR PRIMARY KEY, age INTEGER, gender VARCHAR, occupation VARCHAR, zip_code VARCHAR,
    ingested_at TIMESTAMP DEFAULT current_timestamp);
CREATE TABLE IF NOT EXISTS items (
    item_id VARCHAR PRIMARY KEY, title VARCHAR NOT NULL, genres VARCHAR,  -- genres: pipe-separated
    release_year INTEGER, release_date DATE, ingested_at TIMESTAMP DEFAULT current_timestamp);

-- events
CREATE TABLE IF NOT EXISTS interactions (
    user_id VARCHAR NOT NULL, item_id VARCHAR NOT NULL, ts TIMESTAMP NOT NULL, rating DOUBLE,
    event_type VARCHAR NOT NULL DEFAULT 'rating', ingested_at TIMESTAMP DEFAULT current_timestamp);
CREATE TABLE IF NOT EXISTS reviews (
    review_id VARCHAR PRIMARY KEY, user_id VARCHAR, item_id VARCHAR, ts TIMESTAMP, text VARCHAR NOT NULL,
    source VARCHAR, ingested_at TIMESTAMP DEFAULT current_timestamp);
CREATE TABLE IF NOT EXISTS rejected_rows (
    entity VARCHAR, file VARCHAR, "row" BIGINT, "column" VARCHAR, reason VARCHAR, raw VARCHAR,
    rejected_at TIMESTAMP DEFAULT current_timestamp);

-- features (cached aggregates; point-in-time reads go through data.features)
CREATE TABLE IF NOT EXISTS item_engagement_daily (
    item_id VARCHAR, day DATE, events BIGINT, users BIGINT, mean_rating DOUBLE);
CREATE TABLE IF NOT EXISTS item_sentiment_daily (
    item_id VARCHAR, day DATE, reviews BIGINT, mean_p_positive DOUBLE, run_id VARCHAR);

-- outputs: every row carries the run that made it
CREATE TABLE IF NOT EXISTS recommendations (
    user_id VARCHAR, item_id VARCHAR, rank INTEGER, score DOUBLE, reason VARCHAR, run_id VARCHAR);
CREATE TABLE IF NOT EXISTS similar_items (
    item_id VARCHAR, similar_item_id VARCHAR, rank INTEGER, score DOUBLE, run_id VARCHAR);
CREATE TABLE IF NOT EXISTS review_sentiment (  -- review_ingested_at: the version of the review that was scored
    review_id VARCHAR, p_positive DOUBLE, label INTEGER, run_id VARCHAR, review_ingested_at TIMESTAMP);
CREATE TABLE IF NOT EXISTS forecasts (
    series_id VARCHAR, ds DATE, p10 DOUBLE, p50 DOUBLE, p90 DOUBLE,
    method VARCHAR,  -- 'model' (N-HiTS / TFT), the baseline's name ('mean4', 'naive', 'snaive'), or 'genre_fallback'
    run_id VARCHAR);

-- registry
CREATE TABLE IF NOT EXISTS runs (
    run_id VARCHAR PRIMARY KEY, pipeline VARCHAR NOT NULL, model VARCHAR, params VARCHAR, metrics VARCHAR,
    data_snapshot VARCHAR, artifact_uri VARCHAR, status VARCHAR NOT NULL, started_at TIMESTAMP,
    finished_at TIMESTAMP, error VARCHAR);  -- params/metrics/data_snapshot hold JSON text
CREATE TABLE IF NOT EXISTS run_outputs (
    run_id VARCHAR, table_name VARCHAR, "rows" BIGINT, published_at TIMESTAMP,
    PRIMARY KEY (run_id, table_name));

-- The newest succeeded run's outputs, per output table.
CREATE OR REPLACE VIEW latest_output_runs AS
SELECT table_name, arg_max(o.run_id, o.published_at) AS run_id
FROM run_outputs o JOIN runs r USING (run_id)
WHERE r.status = 'succeeded'
GROUP BY table_name;
CREATE OR REPLACE VIEW recommendations_latest AS
SELECT t.* FROM recommendations t JOIN latest_output_runs l ON l.table_name = 'recommendations' AND t.run_id = l.run_id;
CREATE OR REPLACE VIEW similar_items_latest AS
SELECT t.* FROM similar_items t JOIN latest_output_runs l ON l.table_name = 'similar_items' AND t.run_id = l.run_id;
CREATE OR REPLACE VIEW review_sentiment_latest AS
SELECT t.* FROM review_sentiment t JOIN latest_output_runs l ON l.table_name = 'review_sentiment' AND t.run_id = l.run_id;
CREATE OR REPLACE VIEW forecasts_latest AS
SELECT t.* FROM forecasts t JOIN latest_output_runs l ON l.table_name = 'forecasts' AND t.run_id = l.run_id;
-- The newest succeeded run of each pipeline.
CREATE OR REPLACE VIEW runs_latest AS
SELECT * FROM runs WHERE status = 'succeeded'
QUALIFY row_number() OVER (PARTITION BY pipeline ORDER BY finished_at DESC) = 1;
