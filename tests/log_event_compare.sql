-- revos.log_event (C, src/ledger/log_event.rs) against revos_ref.log_event (its PL/pgSQL definition,
-- tests/log_event_reference.sql), input by input: each call runs in a subtransaction that is
-- rolled back, and its outcome is written down as text: the answer's status and the recorded row
-- (or, for a duplicate, the row it points at), or the error's SQLSTATE and message. Run by
-- tests/ledger_sql.sh, which checks that no outcome differs and that the corpus is not trivial.
\set ON_ERROR_STOP on
SET client_min_messages = warning;

-- Two events to be duplicates of.
SELECT revos.log_event('{"event_type": "seed", "tenant_id": "acme", "idempotency_key": "dup-acme"}') IS NOT NULL AS seeded;
SELECT revos.log_event('{"event_type": "seed", "idempotency_key": "dup-global"}') IS NOT NULL AS seeded;

CREATE FUNCTION revos_ref.try(impl text, input jsonb) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    r jsonb;
    e jsonb;
BEGIN
    BEGIN
        IF impl = 'c' THEN
            r := revos.log_event(input);
        ELSE
            r := revos_ref.log_event(input);
        END IF;
        SELECT to_jsonb(x) - '{id,event_id,recorded_at,prev_hash,hash,occurred_at}'::text[]
               || jsonb_build_object('occurred_at', CASE WHEN x.occurred_at = x.recorded_at THEN 'default'
                                                         ELSE x.occurred_at::text END,
                                     'event_id_matches', x.event_id::text = r ->> 'event_id',
                                     'seed', x.event_type = 'seed')
          INTO e FROM revos.events x WHERE x.id = (r ->> 'id')::bigint;
        RAISE EXCEPTION USING ERRCODE = 'RV000', MESSAGE = jsonb_build_object(
            'status', r -> 'status',
            'answer', (SELECT jsonb_object_agg(k, jsonb_typeof(r -> k)) FROM jsonb_object_keys(r) k),
            'row', e)::text;
    EXCEPTION WHEN OTHERS THEN
        IF SQLSTATE = 'RV000' THEN
            RETURN SQLERRM;
        END IF;
        RETURN SQLSTATE || ' ' || SQLERRM;
    END;
END
$$;

CREATE TEMP TABLE corpus (n serial PRIMARY KEY, input jsonb);

-- By hand: shapes, limits and the envelope.
INSERT INTO corpus (input) VALUES
    (NULL), ('null'), ('[]'), ('[1]'), ('"meta"'), ('["meta"]'), ('5'), ('true'), ('{}'),
    ('{"event_type": "ok"}'),
    ('{"event_type": "ok", "evnt_type": "typo"}'),
    ('{"event_type": "ok", "meta": 1}'),
    ('{"meta": {"event_type": "m.e", "tenant_id": "acme", "idempotency_key": "dup-acme"}, "payload": {}}'),
    ('{"meta": {"event_type": "m.e", "actor_id": "meta-actor"}, "subject": {"type": "order", "id": 5, "tenant_id": "other"},
      "context": {"actor_id": "u"}, "payload": {"subject_id": "", "payload": {"a": 1}}}'),
    ('{"meta": null, "payload": {"event_type": "x"}}'),
    ('{"subject": 5, "payload": {"event_type": "x"}}'),
    ('{"context": {"actor_id": 5}, "payload": {"event_type": "x"}}'),
    ('{"context": {"actor_id": [1]}, "payload": {"event_type": "x"}}'),
    ('{"meta": {}, "payload": {"meta": 1, "event_type": "x"}}'),
    ('{"meta": {}, "payload": null}'),
    ('{"meta": {}, "payload": [1]}'),
    ('{"meta": {"occurred_at": "2024-01-01"}, "payload": {"event_type": "x"}}'),
    ('{"meta": {"tenant_id": ""}, "subject": {"tenant_id": "other"}, "payload": {"event_type": "x", "tenant_id": null}}'),
    ('{"meta": {"idempotency_key": "dup-global"}, "payload": {"event_type": "x", "idempotency_key": ""}}'),
    (jsonb_build_object('event_type', 'big', 'payload', jsonb_build_object('blob', repeat('x', 1048564)))),
    (jsonb_build_object('event_type', 'big', 'payload', jsonb_build_object('blob', repeat('x', 1048565)))),
    -- 8 numbers of 131,072 digits each: a few bytes in jsonb, over 1 MiB as text
    (jsonb_build_object('event_type', 'wide', 'payload',
        (SELECT jsonb_object_agg('n' || i, '1e131071'::jsonb) FROM generate_series(1, 8) i))),
    (jsonb_build_object('event_type', 'wide', 'payload',
        (SELECT jsonb_object_agg('n' || i, '1e131071'::jsonb) FROM generate_series(1, 7) i))),
    (jsonb_build_object('event_type', 'wide', 'subject_id', '1e999'::jsonb)),
    (jsonb_build_object('event_type', 'wide', 'subject_id', '1e1000'::jsonb)),
    (jsonb_build_object('event_type', 'x', 'tenant_id', repeat('é', 200), 'actor_id', repeat('ß', 1000))),
    (jsonb_build_object('event_type', 'x', 'tenant_id', repeat('é', 201))),
    (jsonb_build_object('event_type', 'x', 'idempotency_key', repeat('ü', 255))),
    (jsonb_build_object('event_type', 'x', 'idempotency_key', repeat('ü', 256)));

-- Generated: every field absent or one of its values (invalid ones less often), and a fifth
-- of them wrapped in an envelope with generated meta / subject / context.
CREATE TEMP TABLE vals (field text, v jsonb, valid boolean);
INSERT INTO vals VALUES
    ('event_type', NULL, false), ('event_type', 'null', false), ('event_type', '""', false),
    ('event_type', '"order.created"', true), ('event_type', '"x:y-z_1."', true),
    ('event_type', '"a b"', false), ('event_type', '"schema_drift_detected"', false),
    ('event_type', '"schema_migration_applied"', false), ('event_type', '"é"', false),
    ('event_type', to_jsonb(repeat('e', 200)), true), ('event_type', to_jsonb(repeat('e', 201)), false),
    ('event_type', '5', false),
    ('tenant_id', NULL, true), ('tenant_id', 'null', true), ('tenant_id', '""', true),
    ('tenant_id', '"acme"', true), ('tenant_id', '"other"', true),
    ('tenant_id', to_jsonb(repeat('t', 200)), true), ('tenant_id', to_jsonb(repeat('t', 201)), false),
    ('tenant_id', '7', false), ('tenant_id', '{"a": 1}', false),
    ('subject_type', NULL, true), ('subject_type', 'null', true), ('subject_type', '""', true),
    ('subject_type', '"order"', true), ('subject_type', to_jsonb(repeat('s', 201)), false),
    ('subject_type', 'true', false),
    ('subject_id', NULL, true), ('subject_id', 'null', true), ('subject_id', '""', true),
    ('subject_id', '"o-1"', true), ('subject_id', '42', true), ('subject_id', '1.50', true),
    ('subject_id', '-0', true), ('subject_id', to_jsonb(repeat('i', 1000)), true),
    ('subject_id', to_jsonb(repeat('i', 1001)), false), ('subject_id', '[1]', false),
    ('actor_id', NULL, true), ('actor_id', 'null', true), ('actor_id', '""', true), ('actor_id', '"u-1"', true),
    ('actor_id', to_jsonb(repeat('a', 1001)), false), ('actor_id', 'false', false),
    ('payload', NULL, true), ('payload', 'null', true), ('payload', '{}', true),
    ('payload', '{"n": 1, "s": "x", "nested": {"a": [1, 2, {"b": null}]}}', true),
    ('payload', '[1]', false), ('payload', '"p"', false), ('payload', '3', false),
    ('idempotency_key', NULL, true), ('idempotency_key', 'null', true), ('idempotency_key', '""', true),
    ('idempotency_key', '"dup-acme"', true), ('idempotency_key', '"dup-global"', true),
    ('idempotency_key', '"k-new"', true), ('idempotency_key', to_jsonb(repeat('k', 255)), true),
    ('idempotency_key', to_jsonb(repeat('k', 256)), false), ('idempotency_key', '12', false),
    ('occurred_at', NULL, true), ('occurred_at', 'null', true), ('occurred_at', '""', true),
    ('occurred_at', '"2024-01-02T03:04:05Z"', true), ('occurred_at', '"2024-01-02 03:04"', true),
    ('occurred_at', '"2024-01-02T03:04:05.123456+02:00"', true),
    ('occurred_at', '"2024-13-45T00:00:00Z"', false), ('occurred_at', '"yesterday"', false),
    ('occurred_at', '"infinity"', false), ('occurred_at', '1700000000', false),
    ('evnt_type', NULL, true), ('evnt_type', '"x"', false);
CREATE TEMP TABLE envelope_vals (part text, field text, v jsonb);
INSERT INTO envelope_vals VALUES
    ('meta', 'event_type', NULL), ('meta', 'event_type', '"meta.type"'), ('meta', 'event_type', '5'),
    ('meta', 'tenant_id', NULL), ('meta', 'tenant_id', '"acme"'), ('meta', 'tenant_id', '""'),
    ('meta', 'idempotency_key', NULL), ('meta', 'idempotency_key', '"dup-global"'),
    ('meta', 'occurred_at', NULL), ('meta', 'occurred_at', '"2023-05-06T07:08:09Z"'),
    ('meta', 'actor_id', NULL), ('meta', 'actor_id', '"meta-actor"'),
    ('subject', 'tenant_id', NULL), ('subject', 'tenant_id', '"other"'),
    ('subject', 'type', NULL), ('subject', 'type', '"thing"'),
    ('subject', 'id', NULL), ('subject', 'id', '17'), ('subject', 'id', '"s-17"'), ('subject', 'id', 'true'),
    ('context', 'actor_id', NULL), ('context', 'actor_id', '"ctx-actor"'), ('context', 'actor_id', '[1]');

SELECT setseed(0.4242);
INSERT INTO corpus (input)
SELECT CASE WHEN random() < 0.2 THEN
           jsonb_build_object('payload', flat) || coalesce((
               SELECT jsonb_object_agg(part, obj) FROM (
                   SELECT part, coalesce(jsonb_object_agg(field, v) FILTER (WHERE v IS NOT NULL), '{}') obj
                   FROM (SELECT DISTINCT ON (part, field) part, field, v FROM envelope_vals
                         ORDER BY part, field, random() + g * 0) pick
                   GROUP BY part) parts
               WHERE random() < 0.7), '{"meta": {}}')
       ELSE flat END
FROM (SELECT g, coalesce((
          SELECT jsonb_object_agg(field, v) FILTER (WHERE v IS NOT NULL)
          FROM (SELECT DISTINCT ON (field) field, v FROM vals
                ORDER BY field, (NOT valid AND random() < 0.85), random() + g * 0) pick), '{}') flat
      FROM generate_series(1, 700) g) gen;

-- Every input, in four transaction contexts, through both functions; then revos.current_tenant_id()
-- itself against its SQL definition, over settings and claims.
CREATE TEMP TABLE outcome (ctx text, n int, c text, ref text);
CREATE TEMP TABLE tenant_outcome (app text, claims text, c text, ref text);
-- JWT claims: the shapes a tenant id comes in, then numbers of every form jsonb reads (issue 19:
-- the C function parsed them into f64, so 30-digit ids differing in the last digit were one).
CREATE TEMP TABLE tenant_claims (n serial, claims text);
INSERT INTO tenant_claims (claims) SELECT unnest(ARRAY[
    '', 'not json', '[]', '5', 'null', '{}', '{"tenant_id": "t1"}',
    '{"tenant_id": ""}', '{"tenant_id": null}', '{"tenant_id": 42}',
    '{"tenant_id": 1.50}', '{"tenant_id": true}', '{"tenant_id": false}', '{"tenant_id": {"a": 1}}',
    '{"tenant_id": "", "app_metadata": {"tenant_id": "t2"}}',
    '{"app_metadata": {"tenant_id": "t3"}}', '{"app_metadata": "x"}', '{"app_metadata": [1]}',
    '{"app_metadata": {"tenant_id": ""}}', '{"tenant_id": "\u00e9\"q"}',
    '{"app_metadata": {"tenant_id": true}}', '{"tenant_id": null, "app_metadata": {"tenant_id": false}}',
    '{"tenant_id": 1, "tenant_id": 2}', '{"tenant_id": "a", "tenant_id": ""}',
    '{"tenant_id": {"bb": 1.50, "a": [1e2, -0, true, null, "x\"\u001f\\/"], "bb": 2e-1, "c": {}}}',
    '{"tenant_id": [], "app_metadata": {"tenant_id": 7}}', '{"tenant_id": [[[1.0e1]]]}',
    '{"tenant_id": "a\u0000b"}', '{"tenant_id": "\ud800"}', '{"tenant_id": "\ud83d\ude00"}',
    '{"tenant_id": 01}', '{"tenant_id": 1.}', '{"tenant_id": -}', '{"tenant_id": 1e}', '{"tenant_id": +1}',
    ' {"tenant_id":"ws"} ', '{"tenant_id": "t1"} x', '{"tenant_id": "t1",}']);
-- numbers: large integers (the issue's two), negative ones, decimals with trailing zeros,
-- exponents of every form, and the limits of numeric (what it cannot hold, jsonb refuses)
INSERT INTO tenant_claims (claims)
SELECT format(f, num)
  FROM unnest(ARRAY['{"tenant_id": %s}', '{"app_metadata": {"tenant_id": %s}}',
                    '{"tenant_id": "", "app_metadata": {"tenant_id": [%s]}}']) f,
       (SELECT '12345678901234567890123456789' || d FROM generate_series(0, 9) d
        UNION ALL SELECT '-9' || repeat('8', d) || '7' FROM generate_series(15, 40, 5) d
        UNION ALL SELECT (2::numeric ^ 53 + d)::text FROM generate_series(-1, 1) d
        UNION ALL SELECT m || e
            FROM unnest(ARRAY['0', '-0', '1', '-1', '1.50', '-2.500', '0.0', '123.4500', '0.000001', '7.0']) m,
                 unnest(ARRAY['', 'e0', 'e2', 'E+2', 'e-2', 'E-7', 'e20', 'e-20', 'e+00003']) e
        UNION ALL SELECT unnest(ARRAY['1.7976931348623157e308', '5e-324', '1e400', '-1e-400', '4.9e-325',
                                      '1e1000', '1e-1000', '1e-16383', '1e-16384', '0e-16384', '0.5e-16383',
                                      '1e131071', '10e131071', '1e131072', '0e131072', '1e1073741822',
                                      '0e1073741822', '1e1073741823', '0e-1073741823', '1e99999999999999999999'])
       ) nums(num);
DO $$
DECLARE
    ctx record;
    i record;
    a text;
    cl text;
BEGIN
    FOR ctx IN SELECT * FROM (VALUES
            ('no tenant', '', ''),
            ('app.current_tenant_id = acme', 'acme', ''),
            ('jwt claims tenant acme', '', '{"tenant_id": "acme"}'),
            ('jwt claims app_metadata other', '', '{"app_metadata": {"tenant_id": "other"}}')) c(name, app, claims) LOOP
        PERFORM set_config('app.current_tenant_id', ctx.app, false);
        PERFORM set_config('request.jwt.claims', ctx.claims, false);
        FOR i IN SELECT * FROM corpus ORDER BY n LOOP
            INSERT INTO outcome VALUES (ctx.name, i.n, revos_ref.try('c', i.input), revos_ref.try('ref', i.input));
        END LOOP;
    END LOOP;
    -- revos.current_tenant_id() (C) against its SQL definition, over settings and claims.
    FOREACH a IN ARRAY ARRAY['', 'acme', ' ', 'é'] LOOP
        FOR cl IN SELECT claims FROM tenant_claims ORDER BY n LOOP
            PERFORM set_config('app.current_tenant_id', a, false);
            PERFORM set_config('request.jwt.claims', cl, false);
            INSERT INTO tenant_outcome VALUES (a, cl, revos.current_tenant_id(), revos_ref.current_tenant_id());
        END LOOP;
    END LOOP;
    PERFORM set_config('app.current_tenant_id', '', false);
    PERFORM set_config('request.jwt.claims', '', false);
END
$$;

\pset format unaligned
\pset tuples_only on
SELECT 'calls|' || count(*) FROM outcome;
SELECT 'differ|' || count(*) FILTER (WHERE c IS DISTINCT FROM ref) FROM outcome;
SELECT 'recorded|' || count(*) FILTER (WHERE c LIKE '{"row": %"status": "recorded"}') FROM outcome;
SELECT 'duplicate|' || count(*) FILTER (WHERE c LIKE '{"row": %"status": "duplicate"}') FROM outcome;
SELECT 'errors|' || count(DISTINCT c) FILTER (WHERE c NOT LIKE '{%') FROM outcome;
SELECT 'sqlstates|' || string_agg(DISTINCT left(c, 5), ',' ORDER BY left(c, 5)) FILTER (WHERE c NOT LIKE '{%') FROM outcome;
SELECT 'tenant_cases|' || count(*) || '|' || count(DISTINCT c) || '|' || count(*) FILTER (WHERE c IS DISTINCT FROM ref)
  FROM tenant_outcome;
SELECT 'tenant_example|app=' || quote_literal(app) || ' claims=' || left(claims, 120)
       || E'\n    C:   ' || coalesce(left(c, 120), 'NULL') || E'\n    ref: ' || coalesce(left(ref, 120), 'NULL')
  FROM tenant_outcome WHERE c IS DISTINCT FROM ref ORDER BY claims ~ '[0-9]{20}' DESC, app, claims LIMIT 12;
SELECT 'example|' || o.ctx || '|' || left(coalesce(k.input::text, 'NULL'), 300) || E'\n    C:   ' || left(o.c, 400)
       || E'\n    ref: ' || left(o.ref, 400)
FROM outcome o JOIN corpus k USING (n) WHERE o.c IS DISTINCT FROM o.ref ORDER BY o.n, o.ctx LIMIT 8;
