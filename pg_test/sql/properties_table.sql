-- The property table: every property of an existing table that a payload can declare — how revos
-- reads it from the catalog, how it compares it, what a difference becomes (a change, or a risk
-- that blocks until options.allow_destructive) and how the result is verified. plan and verify
-- decide through it (README, "What apply compares"; src/schema/properties.rs). The cases
-- properties_*.sql change each property by hand and apply the same declaration again.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS revos CASCADE;
CREATE EXTENSION revos;
RESET client_min_messages;
\pset null ''

-- 1. one row in full
SELECT jsonb_pretty(revos.property_table() -> 0) \g (format=unaligned tuples_only=on)

-- 2. every row: what a change made by hand gives when the declaration is applied again (changed
--    back, or blocked by the row's risk — never "applied" with the change left in place); the
--    change tests/properties.rs makes for it
SELECT r ->> 'name' AS property, r ->> 'risk' AS risk, coalesce(r -> 'expect' ->> 'risk', r ->> 'expect') AS after_a_change_by_hand,
       r ->> 'mutation' AS change_by_hand
  FROM jsonb_array_elements(revos.property_table()) AS r;

-- 3. 34 properties, each named once; 3 without a change by hand: extension and schema (the
--    fixture of tests/properties.rs declares neither) and partition_key (it cannot be changed in
--    place: a difference is cannot_compare)
SELECT count(*) AS rows, count(DISTINCT r ->> 'name') AS names, count(*) FILTER (WHERE r ->> 'mutation' IS NULL) AS without_a_change_by_hand
  FROM jsonb_array_elements(revos.property_table()) AS r;
