-- pg_regress: a table made tenant-aware keeps no policy that lets other tenants in (issue 9, contract §10).
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS revos CASCADE;
DROP TABLE IF EXISTS public.fp_leads CASCADE;
CREATE EXTENSION revos;
RESET client_min_messages;
\pset format aligned

-- an existing table with a leftover "everyone sees everything" policy
CREATE TABLE public.fp_leads (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), email text);
ALTER TABLE public.fp_leads ENABLE ROW LEVEL SECURITY;
CREATE POLICY everyone ON public.fp_leads USING (true) WITH CHECK (true);
INSERT INTO public.fp_leads (email) VALUES ('a@example.com');

-- tenant_table() refuses to leave it: the risk foreign_policy
SELECT r ->> 'code' AS code, r ->> 'message' AS message
  FROM jsonb_array_elements(revos.tenant_table('fp_leads', '[]', '{"backfill_tenant": "11111111-1111-1111-1111-111111111111"}') -> 'result' -> 'risks') AS r;
SELECT polname FROM pg_policy WHERE polrelid = 'public.fp_leads'::regclass ORDER BY 1;

-- allowed, the policy is dropped and the tenant policy is the only one
SELECT revos.tenant_table('fp_leads', '[]', '{"backfill_tenant": "11111111-1111-1111-1111-111111111111", "allow_destructive": true}') -> 'result' ->> 'status' AS status;
SELECT polname, polpermissive, pg_get_expr(polqual, polrelid) AS using FROM pg_policy WHERE polrelid = 'public.fp_leads'::regclass ORDER BY 1;

DROP TABLE public.fp_leads;
SET client_min_messages = warning;
DROP EXTENSION revos CASCADE;
RESET client_min_messages;
