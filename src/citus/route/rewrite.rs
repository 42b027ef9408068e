//! The query, before Citus plans it: to each relation that row security limited with revos's
//! policy and that is hash-distributed by the policy's column, the policy's own comparison with
//! the value `revos.current_tenant_id()` has now, as a constant — where it filters that relation
//! exactly as its row-security qual does.
//!
//! A relation qualifies when one of its security quals (every one of them applies, ANDed) is
//! exactly `<column> = <revos.current_tenant_id() [cast to the column's type]>` with the type's
//! equality operator, the column being the relation's Citus distribution column. The added qual
//! is that expression with the call replaced by its value (`evaluate_expr`, the executor's own
//! evaluation): it holds for a row exactly when the policy does, so the rows are the same — and
//! Citus, seeing `column = constant`, routes to the one shard that holds them.
//!
//! Where it goes: into the WHERE clause of the query level, or the ON clause of the nearest join
//! where a filter is the same as filtering the relation's own scan (an inner join; the nullable
//! side of a LEFT/RIGHT join); a relation under the preserved side of an outer join takes it
//! from a join further up. Under a FULL join no place is equivalent: that relation is left alone.
//! A relation whose WHERE already compares its distribution column with a constant or parameter
//! is left alone too (Citus routes it already).
//!
//! Only SELECT, UPDATE and DELETE statements without data-modifying CTEs are touched. An INSERT
//! needs nothing (Citus routes it by its values), and an INSERT … SELECT is left whole: with its
//! SELECT routed, Citus 13.2.2 switches it from the repartition method to pulling the rows to the
//! coordinator and COPYing them into the shards, which row security refuses ("COPY FROM not
//! supported with row-level security"; measured). MERGE is left as it is.

use std::ffi::c_void;

use pgrx::pg_sys::{self, Node, NodeTag};
use pgrx::prelude::*;

use crate::citus::route::relations;

#[derive(Default)]
struct Walk {
    /// `revos.current_tenant_id()`, looked up once a relation qualifies.
    func: Option<Option<pg_sys::Oid>>,
    added: usize,
}

impl Walk {
    fn tenant_function(&mut self) -> Option<pg_sys::Oid> {
        *self
            .func
            .get_or_insert_with(|| crate::privilege::revos_function("current_tenant_id", &[]))
    }
}

/// Whether `parse` is a statement revos routes: SELECT, UPDATE or DELETE without data-modifying
/// CTEs. (Citus plans an INSERT … SELECT's SELECT with a planner call of its own: the hook keeps
/// the answer for the statement around it, see `route::planner`.)
pub unsafe fn routable(parse: *mut pg_sys::Query) -> bool {
    use pg_sys::CmdType::{CMD_DELETE, CMD_SELECT, CMD_UPDATE};
    matches!((*parse).commandType, CMD_SELECT | CMD_UPDATE | CMD_DELETE)
        && !(*parse).hasModifyingCTE
}

/// Adds the tenant's equality to every qualifying relation of `parse` and of its subqueries,
/// CTEs and sublinks; returns how many were added.
pub unsafe fn route(parse: *mut pg_sys::Query) -> usize {
    let mut w = Walk::default();
    walker(parse.cast(), (&raw mut w).cast());
    w.added
}

unsafe fn tag(n: *const Node) -> NodeTag {
    (*n).type_
}

unsafe fn nth(list: *mut pg_sys::List, i: usize) -> *mut Node {
    (*(*list).elements.add(i)).ptr_value.cast()
}

unsafe fn len(list: *mut pg_sys::List) -> usize {
    if list.is_null() {
        0
    } else {
        (*list).length as usize
    }
}

#[pg_guard]
unsafe extern "C-unwind" fn walker(node: *mut Node, cx: *mut c_void) -> bool {
    if node.is_null() {
        return false;
    }
    if tag(node) == NodeTag::T_Query {
        let q: *mut pg_sys::Query = node.cast();
        level(q, &mut *(cx as *mut Walk));
        return pg_sys::query_tree_walker(q, Some(walker), cx, 0);
    }
    pg_sys::expression_tree_walker(node, Some(walker), cx)
}

/// One query level: its own relations (its subqueries are reached by the walker).
unsafe fn level(q: *mut pg_sys::Query, w: &mut Walk) {
    use pg_sys::CmdType::{CMD_DELETE, CMD_SELECT, CMD_UPDATE};
    if !matches!((*q).commandType, CMD_SELECT | CMD_UPDATE | CMD_DELETE) || (*q).jointree.is_null()
    {
        return;
    }
    for i in 0..len((*q).rtable) {
        let rte: *mut pg_sys::RangeTblEntry = nth((*q).rtable, i).cast();
        if (*rte).rtekind != pg_sys::RTEKind::RTE_RELATION || (*rte).securityQuals.is_null() {
            continue;
        }
        let rti = i as i32 + 1;
        let Some(column) = relations::distribution_column((*rte).relid) else {
            continue;
        };
        let Some(func) = w.tenant_function() else {
            return;
        };
        let Some((op, arg)) = policy_qual((*rte).securityQuals, rti, column, func) else {
            continue;
        };
        if pinned((*(*q).jointree).quals, rti, column) {
            continue;
        }
        let Some(qual) = with_value(op, arg) else {
            continue;
        };
        if let Found::Placed = place((*q).jointree.cast(), rti, qual) {
            w.added += 1;
        }
    }
}

unsafe fn is_column(n: *mut Node, rti: i32, column: i16) -> bool {
    if tag(n) != NodeTag::T_Var {
        return false;
    }
    let v: *mut pg_sys::Var = n.cast();
    (*v).varno as i32 == rti && (*v).varattno == column && (*v).varlevelsup == 0
}

/// `revos.current_tenant_id()`, bare or cast (an I/O conversion or a binary relabel).
unsafe fn calls_tenant(n: *mut Node, func: pg_sys::Oid) -> bool {
    match tag(n) {
        NodeTag::T_FuncExpr => {
            let f: *mut pg_sys::FuncExpr = n.cast();
            (*f).funcid == func && len((*f).args) == 0
        }
        NodeTag::T_CoerceViaIO => calls_tenant((*(n as *mut pg_sys::CoerceViaIO)).arg.cast(), func),
        NodeTag::T_RelabelType => calls_tenant((*(n as *mut pg_sys::RelabelType)).arg.cast(), func),
        _ => false,
    }
}

/// The security qual that is revos's policy on `column` of relation `rti`: the comparison and
/// the position of its `current_tenant_id()` argument.
unsafe fn policy_qual(
    quals: *mut pg_sys::List,
    rti: i32,
    column: i16,
    func: pg_sys::Oid,
) -> Option<(*mut pg_sys::OpExpr, usize)> {
    for i in 0..len(quals) {
        let e = nth(quals, i);
        if tag(e) != NodeTag::T_OpExpr {
            continue;
        }
        let op: *mut pg_sys::OpExpr = e.cast();
        if len((*op).args) != 2 {
            continue;
        }
        for (c, v) in [(0, 1), (1, 0)] {
            let (col, val) = (nth((*op).args, c), nth((*op).args, v));
            if is_column(col, rti, column)
                && calls_tenant(val, func)
                && is_equality((*op).opno, (*(col as *mut pg_sys::Var)).vartype)
            {
                return Some((op, v));
            }
        }
    }
    None
}

/// `opno` is the default equality of `typ` (what Citus hashes by).
unsafe fn is_equality(opno: pg_sys::Oid, typ: pg_sys::Oid) -> bool {
    let tc = pg_sys::lookup_type_cache(typ, pg_sys::TYPECACHE_EQ_OPR as i32);
    !tc.is_null() && (*tc).eq_opr == opno
}

/// The WHERE clause already compares the column with a constant or a parameter (at its top
/// level of ANDs): Citus routes that query as it is.
unsafe fn pinned(quals: *mut Node, rti: i32, column: i16) -> bool {
    if quals.is_null() {
        return false;
    }
    match tag(quals) {
        NodeTag::T_BoolExpr => {
            let b: *mut pg_sys::BoolExpr = quals.cast();
            (*b).boolop == pg_sys::BoolExprType::AND_EXPR
                && (0..len((*b).args)).any(|i| pinned(nth((*b).args, i), rti, column))
        }
        NodeTag::T_OpExpr => {
            let args = (*(quals as *mut pg_sys::OpExpr)).args;
            len(args) == 2
                && [(0, 1), (1, 0)].iter().any(|&(c, v)| {
                    is_column(nth(args, c), rti, column)
                        && matches!(tag(nth(args, v)), NodeTag::T_Const | NodeTag::T_Param)
                })
        }
        _ => false,
    }
}

/// A copy of the policy's comparison with its `current_tenant_id()` argument replaced by the
/// value it has now (None when it has none, or it cannot be computed — say, the tenant is not a
/// valid value of the column's type: the policy then raises the same error where it runs).
unsafe fn with_value(op: *mut pg_sys::OpExpr, arg: usize) -> Option<*mut Node> {
    let expr = nth((*op).args, arg);
    let value = PgTryBuilder::new(|| unsafe {
        let c = pg_sys::evaluate_expr(
            pg_sys::copyObjectImpl(expr.cast()).cast(),
            pg_sys::exprType(expr),
            pg_sys::exprTypmod(expr),
            pg_sys::exprCollation(expr),
        ) as *mut Node;
        (tag(c) == NodeTag::T_Const && !(*(c as *mut pg_sys::Const)).constisnull).then_some(c)
    })
    .catch_others(|_| None)
    .execute()?;
    let copy: *mut pg_sys::OpExpr = pg_sys::copyObjectImpl(op.cast()).cast();
    (*(*(*copy).args).elements.add(arg)).ptr_value = value.cast();
    Some(copy.cast())
}

/// Where the qual for relation `rti` goes, searched from a node of the join tree.
enum Found {
    /// `rti` is not under this node.
    No,
    /// Under this node, on a path where a filter above is the same as filtering its scan: the
    /// caller places it (or passes it further up).
    Pending,
    Placed,
    /// Under a FULL join: no filter above it is the same as filtering its scan.
    Impossible,
}

unsafe fn and_into(quals: &mut *mut Node, qual: *mut Node) {
    *quals = pg_sys::make_and_qual(*quals, qual);
}

unsafe fn place(node: *mut Node, rti: i32, qual: *mut Node) -> Found {
    match tag(node) {
        NodeTag::T_RangeTblRef => {
            if (*(node as *mut pg_sys::RangeTblRef)).rtindex == rti {
                Found::Pending
            } else {
                Found::No
            }
        }
        NodeTag::T_FromExpr => {
            let f: *mut pg_sys::FromExpr = node.cast();
            for i in 0..len((*f).fromlist) {
                match place(nth((*f).fromlist, i), rti, qual) {
                    Found::No => continue,
                    Found::Pending => {
                        and_into(&mut (*f).quals, qual);
                        return Found::Placed;
                    }
                    other => return other,
                }
            }
            Found::No
        }
        NodeTag::T_JoinExpr => {
            use pg_sys::JoinType::{JOIN_INNER, JOIN_LEFT, JOIN_RIGHT};
            let j: *mut pg_sys::JoinExpr = node.cast();
            let (left, found) = match place((*j).larg, rti, qual) {
                Found::No => (false, place((*j).rarg, rti, qual)),
                f => (true, f),
            };
            let Found::Pending = found else {
                return found;
            };
            match (*j).jointype {
                // the same as filtering the relation: an inner join, or the nullable side
                JOIN_INNER => {}
                JOIN_LEFT if !left => {}
                JOIN_RIGHT if left => {}
                // the preserved side: a filter here would keep the row, NULL-extended
                JOIN_LEFT | JOIN_RIGHT => return Found::Pending,
                _ => return Found::Impossible,
            }
            and_into(&mut (*j).quals, qual);
            Found::Placed
        }
        _ => Found::No,
    }
}
