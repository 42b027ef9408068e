//! The catalog fingerprint a plan hash covers (`schema::plan_hash`): the structure of the tables
//! and enums a plan reads or changes, deparsed by Postgres, in one query — with the firing state
//! of their triggers' clones on their partitions (one level down; NULL, and so nothing, for a table
//! without partitions). Statistics (`reltuples`, `relpages`) and row contents are left out.

use pgrx::prelude::*;

use crate::ident::sha256_hex;

const FINGERPRINT_SQL: &str = r#"
WITH tbl AS (
    SELECT k.s, k.t, c.oid, c.relkind, c.relrowsecurity, c.relforcerowsecurity
      FROM ROWS FROM (pg_catalog.unnest($1::pg_catalog.text[]), pg_catalog.unnest($2::pg_catalog.text[])) AS k(s, t)
      LEFT JOIN pg_catalog.pg_namespace n ON n.nspname OPERATOR(pg_catalog.=) k.s
      LEFT JOIN pg_catalog.pg_class c ON c.relnamespace OPERATOR(pg_catalog.=) n.oid
                                     AND c.relname OPERATOR(pg_catalog.=) k.t
)
SELECT pg_catalog.string_agg(f.x, E'\n' ORDER BY f.x) FROM (
    SELECT 'table ' || pg_catalog.quote_ident(tbl.s) || '.' || pg_catalog.quote_ident(tbl.t) || ' ' ||
           CASE WHEN tbl.oid IS NULL THEN 'absent' ELSE pg_catalog.concat_ws(' | ',
             tbl.oid, tbl.relkind, tbl.relrowsecurity, tbl.relforcerowsecurity,
             pg_catalog.obj_description(tbl.oid, 'pg_class'),
             (SELECT pg_catalog.string_agg(pg_catalog.concat_ws(':', a.attnum, pg_catalog.quote_ident(a.attname),
                         pg_catalog.format_type(a.atttypid, a.atttypmod), a.attnotnull, a.attidentity,
                         a.attgenerated, a.attcollation, pg_catalog.pg_get_expr(d.adbin, d.adrelid),
                         pg_catalog.col_description(a.attrelid, a.attnum)), ',' ORDER BY a.attnum)
                FROM pg_catalog.pg_attribute a
                LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid OPERATOR(pg_catalog.=) a.attrelid
                                                 AND d.adnum OPERATOR(pg_catalog.=) a.attnum
               WHERE a.attrelid OPERATOR(pg_catalog.=) tbl.oid AND a.attnum OPERATOR(pg_catalog.>) 0
                 AND NOT a.attisdropped),
             (SELECT pg_catalog.string_agg(pg_catalog.concat_ws(':', pg_catalog.quote_ident(con.conname), con.contype,
                         pg_catalog.pg_get_constraintdef(con.oid), con.convalidated), ',' ORDER BY con.conname)
                FROM pg_catalog.pg_constraint con WHERE con.conrelid OPERATOR(pg_catalog.=) tbl.oid),
             (SELECT pg_catalog.string_agg(pg_catalog.concat_ws(':', pg_catalog.pg_get_indexdef(i.indexrelid),
                         i.indisvalid), ',' ORDER BY ic.relname)
                FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class ic ON ic.oid OPERATOR(pg_catalog.=) i.indexrelid
               WHERE i.indrelid OPERATOR(pg_catalog.=) tbl.oid),
             (SELECT pg_catalog.string_agg(pg_catalog.concat_ws(':', pg_catalog.quote_ident(p.polname), p.polcmd,
                         p.polpermissive, p.polroles::pg_catalog.text,
                         pg_catalog.pg_get_expr(p.polqual, p.polrelid),
                         pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid)), ',' ORDER BY p.polname)
                FROM pg_catalog.pg_policy p WHERE p.polrelid OPERATOR(pg_catalog.=) tbl.oid),
             (SELECT pg_catalog.string_agg(pg_catalog.concat_ws(':', pg_catalog.pg_get_triggerdef(tg.oid),
                         tg.tgenabled), ',' ORDER BY tg.tgname)
                FROM pg_catalog.pg_trigger tg
               WHERE tg.tgrelid OPERATOR(pg_catalog.=) tbl.oid AND NOT tg.tgisinternal),
             (SELECT pg_catalog.string_agg(pg_catalog.concat_ws(':', pt.tgrelid, pg_catalog.quote_ident(pt.tgname),
                         pt.tgenabled), ',' ORDER BY pt.tgrelid, pt.tgname)
                FROM pg_catalog.pg_inherits i
                JOIN pg_catalog.pg_trigger pt ON pt.tgrelid OPERATOR(pg_catalog.=) i.inhrelid
               WHERE i.inhparent OPERATOR(pg_catalog.=) tbl.oid
                 AND pt.tgparentid OPERATOR(pg_catalog.<>) 0),
             -- two levels down, as the snapshot reads them (schema::trigger_firing)
             (SELECT pg_catalog.string_agg(pg_catalog.concat_ws(':', pt.tgrelid, pg_catalog.quote_ident(pt.tgname),
                         pt.tgenabled), ',' ORDER BY pt.tgrelid, pt.tgname)
                FROM pg_catalog.pg_inherits i
                JOIN pg_catalog.pg_inherits j ON j.inhparent OPERATOR(pg_catalog.=) i.inhrelid
                JOIN pg_catalog.pg_trigger pt ON pt.tgrelid OPERATOR(pg_catalog.=) j.inhrelid
               WHERE i.inhparent OPERATOR(pg_catalog.=) tbl.oid
                 AND pt.tgparentid OPERATOR(pg_catalog.<>) 0)) END
      FROM tbl
    UNION ALL
    SELECT 'enum ' || pg_catalog.quote_ident(e.s) || '.' || pg_catalog.quote_ident(e.t) || ' ' ||
           coalesce((SELECT pg_catalog.string_agg(pg_catalog.quote_literal(l.enumlabel), ',' ORDER BY l.enumsortorder)
                       FROM pg_catalog.pg_type ty
                       JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) ty.typnamespace
                       JOIN pg_catalog.pg_enum l ON l.enumtypid OPERATOR(pg_catalog.=) ty.oid
                      WHERE n.nspname OPERATOR(pg_catalog.=) e.s AND ty.typname OPERATOR(pg_catalog.=) e.t),
                    'absent')
      FROM ROWS FROM (pg_catalog.unnest($3::pg_catalog.text[]), pg_catalog.unnest($4::pg_catalog.text[])) AS e(s, t)
) f(x)"#;

/// SHA-256 (hex) of the deparsed structure of `tables` and `enums` ((schema, name) pairs).
pub fn fingerprint(tables: &[(String, String)], enums: &[(String, String)]) -> String {
    let col = |v: &[(String, String)], first: bool| -> Vec<String> {
        v.iter()
            .map(|k| if first { k.0.clone() } else { k.1.clone() })
            .collect()
    };
    let text: Option<String> = Spi::get_one_with_args(
        FINGERPRINT_SQL,
        &[
            col(tables, true).into(),
            col(tables, false).into(),
            col(enums, true).into(),
            col(enums, false).into(),
        ],
    )
    .unwrap_or_else(|e| pgrx::error!("revos: reading the catalog fingerprint failed: {e}"));
    sha256_hex(text.unwrap_or_default().as_bytes())
}
