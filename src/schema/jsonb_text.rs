//! JSON text read the way PostgreSQL's `jsonb` reads it, for `->>`: a number keeps every digit
//! (jsonb stores it as `numeric` and prints it with `numeric_out`: `1.50` stays `1.50`, `1e2` is
//! `100`, `-0` is `0`), an object's keys are sorted as jsonb sorts them (shorter first, then by
//! bytes) with the last of duplicate keys kept, containers print as `jsonb_out` prints them
//! (`{"a": 1, "b": [1, 2]}`), strings are escaped as `escape_json` does. Text jsonb refuses
//! (`\u0000`, a lone surrogate, a number `numeric` cannot hold) is refused here too.
//!
//! Written for `revos.current_tenant_id()` (C), which must answer what its SQL definition
//! (`claims::jsonb ->> 'tenant_id'`) answered: parsing numbers into f64 gave tenant ids
//! `123456789012345678901234567891` and `…892` the same text. Pure; no recursion (the parser and
//! the printer keep their own stacks), so deep nesting cannot overflow the backend's stack.

/// A parsed JSON value; containers hold indexes into [`Doc::nodes`].
#[derive(Debug, Clone, PartialEq)]
enum Node {
    Null,
    Bool(bool),
    /// The number as `numeric_out` prints it.
    Number(String),
    String(String),
    Array(Vec<usize>),
    /// Keys in document order, duplicates included (the last one counts).
    Object(Vec<(String, usize)>),
}

/// A JSON document: its nodes, the root last.
#[derive(Debug)]
pub struct Doc {
    nodes: Vec<Node>,
    root: usize,
}

/// An object or array being read: the node, and an object's key waiting for its value.
struct Open {
    node: usize,
    key: Option<String>,
}

impl Doc {
    /// The document, or None where `jsonb_in` raises.
    pub fn parse(text: &str) -> Option<Doc> {
        Reader {
            s: text.as_bytes(),
            i: 0,
            nodes: vec![],
        }
        .document()
    }

    /// `->> key` of the root: None unless the root is an object with that key holding a non-null.
    pub fn get_text(&self, key: &str) -> Option<String> {
        self.text_of(self.field(self.root, key)?)
    }

    /// `-> outer ->> key`.
    pub fn get_text_in(&self, outer: &str, key: &str) -> Option<String> {
        self.text_of(self.field(self.field(self.root, outer)?, key)?)
    }

    /// The elements of the array at `-> key` of the root (`-> outer -> key` with `outer`), each
    /// as `->>` reads it (`jsonb_array_elements_text`: a JSON null as None); None unless that
    /// value is an array.
    pub fn get_array(&self, outer: Option<&str>, key: &str) -> Option<Vec<Option<String>>> {
        let holder = match outer {
            Some(o) => self.field(self.root, o)?,
            None => self.root,
        };
        match &self.nodes[self.field(holder, key)?] {
            Node::Array(items) => Some(items.iter().map(|i| self.text_of(*i)).collect()),
            _ => None,
        }
    }

    fn field(&self, node: usize, key: &str) -> Option<usize> {
        match &self.nodes[node] {
            Node::Object(pairs) => pairs.iter().rev().find(|(k, _)| k == key).map(|p| p.1),
            _ => None,
        }
    }

    /// What `->>` returns for a value: a string as it is, null as SQL NULL, anything else as
    /// jsonb prints it.
    fn text_of(&self, node: usize) -> Option<String> {
        match &self.nodes[node] {
            Node::Null => None,
            Node::String(s) => Some(s.clone()),
            _ => Some(self.print(node)),
        }
    }

    /// `jsonb_out` of a node.
    fn print(&self, node: usize) -> String {
        enum Work<'a> {
            Node(usize),
            Text(&'a str),
            Key(&'a str),
        }
        let mut out = String::new();
        let mut work = vec![Work::Node(node)];
        while let Some(w) = work.pop() {
            match w {
                Work::Text(t) => out.push_str(t),
                Work::Key(k) => {
                    escape_into(&mut out, k);
                    out.push_str(": ");
                }
                Work::Node(n) => match &self.nodes[n] {
                    Node::Null => out.push_str("null"),
                    Node::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
                    Node::Number(t) => out.push_str(t),
                    Node::String(s) => escape_into(&mut out, s),
                    Node::Array(items) => {
                        out.push('[');
                        work.push(Work::Text("]"));
                        for (i, item) in items.iter().enumerate().rev() {
                            work.push(Work::Node(*item));
                            if i > 0 {
                                work.push(Work::Text(", "));
                            }
                        }
                    }
                    Node::Object(pairs) => {
                        out.push('{');
                        work.push(Work::Text("}"));
                        for (i, (k, v)) in jsonb_order(pairs).into_iter().enumerate().rev() {
                            work.push(Work::Node(v));
                            work.push(Work::Key(k));
                            if i > 0 {
                                work.push(Work::Text(", "));
                            }
                        }
                    }
                },
            }
        }
        out
    }
}

/// An object's pairs as jsonb keeps them: the last of duplicate keys, sorted by key length, then
/// by the key's bytes.
fn jsonb_order(pairs: &[(String, usize)]) -> Vec<(&str, usize)> {
    let mut kept: Vec<(&str, usize)> = vec![];
    for (k, v) in pairs.iter().rev() {
        if !kept.iter().any(|(seen, _)| *seen == k.as_str()) {
            kept.push((k.as_str(), *v));
        }
    }
    kept.sort_by(|a, b| (a.0.len(), a.0.as_bytes()).cmp(&(b.0.len(), b.0.as_bytes())));
    kept
}

/// PostgreSQL's `escape_json`: `"` and `\` escaped, \b \f \n \r \t by name, other control
/// characters as `\u00xx` (lower case), everything else as it is.
fn escape_into(out: &mut String, s: &str) {
    out.push('"');
    for ch in s.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// The parser: RFC 8259 JSON as PostgreSQL's lexer takes it (whitespace is space, tab, LF, CR).
struct Reader<'a> {
    s: &'a [u8],
    i: usize,
    nodes: Vec<Node>,
}

impl<'a> Reader<'a> {
    fn document(mut self) -> Option<Doc> {
        let mut open: Vec<Open> = vec![];
        loop {
            // a value starts here
            self.ws();
            let mut done = match self.peek()? {
                b'{' | b'[' => {
                    let array = self.s[self.i] == b'[';
                    self.i += 1;
                    let node = self.push(if array {
                        Node::Array(vec![])
                    } else {
                        Node::Object(vec![])
                    });
                    self.ws();
                    if self.peek() == Some(if array { b']' } else { b'}' }) {
                        self.i += 1;
                        node
                    } else {
                        let key = if array { None } else { Some(self.key()?) };
                        open.push(Open { node, key });
                        continue;
                    }
                }
                _ => {
                    let scalar = self.scalar()?;
                    self.push(scalar)
                }
            };
            // a value ended: it goes into the container that is open, which may end too
            loop {
                let Some(top) = open.last_mut() else {
                    self.ws();
                    let root = done;
                    return (self.i == self.s.len()).then_some(Doc {
                        nodes: self.nodes,
                        root,
                    });
                };
                match &mut self.nodes[top.node] {
                    Node::Array(items) => items.push(done),
                    Node::Object(pairs) => pairs.push((top.key.take()?, done)),
                    _ => return None,
                }
                let array = matches!(self.nodes[top.node], Node::Array(_));
                self.ws();
                match self.peek()? {
                    b',' => {
                        self.i += 1;
                        if !array {
                            top.key = Some(self.key()?);
                        }
                        break;
                    }
                    b']' if array => {}
                    b'}' if !array => {}
                    _ => return None,
                }
                self.i += 1;
                done = top.node;
                open.pop();
            }
        }
    }

    fn push(&mut self, n: Node) -> usize {
        self.nodes.push(n);
        self.nodes.len() - 1
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.i += 1;
        }
    }

    /// `"key" :`
    fn key(&mut self) -> Option<String> {
        self.ws();
        let k = self.string()?;
        self.ws();
        (self.peek()? == b':').then(|| self.i += 1)?;
        Some(k)
    }

    fn scalar(&mut self) -> Option<Node> {
        for (word, node) in [
            ("true", Node::Bool(true)),
            ("false", Node::Bool(false)),
            ("null", Node::Null),
        ] {
            if self.s[self.i..].starts_with(word.as_bytes()) {
                self.i += word.len();
                return Some(node);
            }
        }
        match self.peek()? {
            b'"' => self.string().map(Node::String),
            b'-' | b'0'..=b'9' => self.number().map(Node::Number),
            _ => None,
        }
    }

    /// A string literal; None where jsonb refuses it (a bad escape, a control character, `\u0000`,
    /// a surrogate that is not half of a pair).
    fn string(&mut self) -> Option<String> {
        (self.peek()? == b'"').then(|| self.i += 1)?;
        let mut out = String::new();
        loop {
            let start = self.i;
            while !matches!(self.peek()?, b'"' | b'\\' | 0..=0x1f) {
                self.i += 1;
            }
            // the input is UTF-8 and the run ends before an ASCII byte
            out.push_str(std::str::from_utf8(&self.s[start..self.i]).ok()?);
            match self.peek()? {
                b'"' => {
                    self.i += 1;
                    return Some(out);
                }
                b'\\' => {
                    self.i += 1;
                    let c = self.peek()?;
                    self.i += 1;
                    out.push(match c {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => self.unicode_escape()?,
                        _ => return None,
                    });
                }
                _ => return None,
            }
        }
    }

    /// After `\u`: four hex digits, a surrogate pair as two escapes; `\u0000` is refused (jsonb
    /// cannot hold it in text).
    fn unicode_escape(&mut self) -> Option<char> {
        let hi = self.hex4()?;
        let code = match hi {
            0 => return None,
            0xD800..=0xDBFF => {
                if !self.s[self.i..].starts_with(b"\\u") {
                    return None;
                }
                self.i += 2;
                let lo = self.hex4()?;
                if !(0xDC00..=0xDFFF).contains(&lo) {
                    return None;
                }
                0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
            }
            0xDC00..=0xDFFF => return None,
            c => c,
        };
        char::from_u32(code)
    }

    fn hex4(&mut self) -> Option<u32> {
        let h = self.s.get(self.i..self.i + 4)?;
        if !h.iter().all(u8::is_ascii_hexdigit) {
            return None;
        }
        self.i += 4;
        u32::from_str_radix(std::str::from_utf8(h).ok()?, 16).ok()
    }

    /// A number literal (`-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`), as
    /// `numeric_out` prints it.
    fn number(&mut self) -> Option<String> {
        let neg = self.peek() == Some(b'-');
        if neg {
            self.i += 1;
        }
        let int = self.digits();
        if int.is_empty() || (int.len() > 1 && int[0] == b'0') {
            return None;
        }
        let mut frac: &[u8] = &[];
        if self.peek() == Some(b'.') {
            self.i += 1;
            frac = self.digits();
            if frac.is_empty() {
                return None;
            }
        }
        let mut exp: i64 = 0;
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.i += 1;
            let sign = match self.peek() {
                Some(b'-') => -1,
                Some(b'+') => 1,
                _ => 0,
            };
            if sign != 0 {
                self.i += 1;
            }
            let e = self.digits();
            if e.is_empty() {
                return None;
            }
            // saturates: anything this large is out of numeric's range anyway
            exp = e.iter().fold(0i64, |a, d| {
                a.saturating_mul(10).saturating_add(i64::from(d - b'0'))
            }) * if sign < 0 { -1 } else { 1 };
        }
        numeric_text(neg, int, frac, exp)
    }

    fn digits(&mut self) -> &'a [u8] {
        let (s, start) = (self.s, self.i);
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.i += 1;
        }
        &s[start..self.i]
    }
}

/// `numeric_in` then `numeric_out` of a JSON number: the digits as written, the scale as written
/// less the exponent (never below 0), no exponent, no `-0`. None where `numeric_in` raises: an
/// exponent at or past INT_MAX/2, a scale above 16383 or more than 131072 digits before the point
/// (numeric's storage limits).
fn numeric_text(neg: bool, int: &[u8], frac: &[u8], exp: i64) -> Option<String> {
    const INT_MAX_HALF: i64 = (i32::MAX / 2) as i64;
    const DSCALE_MAX: i64 = 0x3FFF;
    const WEIGHT_MAX: i64 = i16::MAX as i64;
    if exp >= INT_MAX_HALF || exp <= -INT_MAX_HALF {
        return None;
    }
    let digits: Vec<u8> = int.iter().chain(frac).copied().collect();
    let scale = (frac.len() as i64 - exp).max(0);
    if scale > DSCALE_MAX {
        return None;
    }
    // the decimal point comes after `point` digits of `digits` (it may be before or after them)
    let lead = digits.iter().take_while(|d| **d == b'0').count();
    let digits = &digits[lead..];
    let point = int.len() as i64 + exp - lead as i64;
    let mut out = String::new();
    if digits.is_empty() {
        out.push('0');
    } else {
        // the first digit's power of ten, in numeric's base-10000 groups
        if (point - 1).div_euclid(4) > WEIGHT_MAX {
            return None;
        }
        if neg {
            out.push('-');
        }
        if point <= 0 {
            out.push('0');
        }
        for k in 0..point.max(0) {
            out.push(*digits.get(k as usize).unwrap_or(&b'0') as char);
        }
    }
    if scale > 0 {
        out.push('.');
        for k in 0..scale {
            let at = point + k;
            let d = if at >= 0 {
                digits.get(at as usize)
            } else {
                None
            };
            out.push(*d.unwrap_or(&b'0') as char);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tenant(claims: &str) -> Option<String> {
        Doc::parse(claims)?.get_text("tenant_id")
    }

    /// What `('{"tenant_id": N}'::jsonb) ->> 'tenant_id'` answers on PostgreSQL 15-18 (checked
    /// side by side with the server by tests/ledger_sql.sh).
    #[test]
    fn numbers_print_as_numeric_out() {
        for (n, want) in [
            (
                "123456789012345678901234567891",
                "123456789012345678901234567891",
            ),
            (
                "123456789012345678901234567892",
                "123456789012345678901234567892",
            ),
            (
                "-123456789012345678901234567891",
                "-123456789012345678901234567891",
            ),
            ("1.50", "1.50"),
            ("1e2", "100"),
            ("1E+2", "100"),
            ("1.5e1", "15"),
            ("1.50e1", "15.0"),
            ("1e-2", "0.01"),
            ("100e-2", "1.00"),
            ("0", "0"),
            ("-0", "0"),
            ("-0.0", "0.0"),
            ("0e5", "0"),
            ("0.000e2", "0.0"),
            ("-1.5e-3", "-0.0015"),
            ("12.5e-1", "1.25"),
            ("42", "42"),
            ("9007199254740993", "9007199254740993"),
        ] {
            assert_eq!(
                tenant(&format!(r#"{{"tenant_id": {n}}}"#)).as_deref(),
                Some(want),
                "{n}"
            );
        }
    }

    #[test]
    fn numbers_numeric_cannot_hold_are_refused() {
        for n in [
            "1e2147483647",
            "1e1073741823",
            "1e-16384",
            "0e-16384",
            "1e131072",
        ] {
            assert_eq!(tenant(&format!(r#"{{"tenant_id": {n}}}"#)), None, "{n}");
        }
        let long = format!("1e{}", 131071);
        assert_eq!(
            tenant(&format!(r#"{{"tenant_id": {long}}}"#)).map(|t| t.len()),
            Some(131072)
        );
        assert_eq!(
            tenant(r#"{"tenant_id": 1e-16383}"#).map(|t| t.len()),
            Some(16385)
        );
    }

    #[test]
    fn containers_print_as_jsonb_out() {
        assert_eq!(
            tenant(r#"{"tenant_id": {"bb":1,"a":[true,null,"x\"\u0001"],"bb":2.0, "c": {}}}"#)
                .as_deref(),
            Some(r#"{"a": [true, null, "x\"\u0001"], "c": {}, "bb": 2.0}"#)
        );
        assert_eq!(tenant(r#"{"tenant_id": []}"#).as_deref(), Some("[]"));
        assert_eq!(tenant(r#"{"tenant_id": true}"#).as_deref(), Some("true"));
        assert_eq!(tenant(r#"{"tenant_id": null}"#), None);
        // the last of duplicate keys
        assert_eq!(
            tenant(r#"{"tenant_id": "a", "tenant_id": "b"}"#).as_deref(),
            Some("b")
        );
    }

    #[test]
    fn what_jsonb_refuses_is_refused() {
        for bad in [
            "",
            "{",
            r#"{"tenant_id": 01}"#,
            r#"{"tenant_id": 1.}"#,
            r#"{"tenant_id": .5}"#,
            r#"{"tenant_id": +1}"#,
            r#"{"tenant_id": 1e}"#,
            r#"{"tenant_id": "a\u0000"}"#,
            r#"{"tenant_id": "\ud800"}"#,
            r#"{"tenant_id": "\udc00"}"#,
            r#"{"tenant_id": "\x"}"#,
            "{\"tenant_id\": \"a\tb\"}",
            r#"{"tenant_id": "a"} x"#,
            r#"{"tenant_id": "a",}"#,
            r#"{"tenant_id": tru}"#,
            r#"{"tenant_id": truex}"#,
            r#"{"tenant_id" "a"}"#,
            r#"[1,]"#,
        ] {
            assert!(Doc::parse(bad).is_none(), "{bad}");
        }
        assert_eq!(
            tenant(r#"{"tenant_id": "\ud83d\ude00 \u00e9\/"}"#).as_deref(),
            Some("😀 é/")
        );
    }

    /// Issue 25 (the claims tenancy mode): an array's elements as `jsonb_array_elements_text`
    /// reads them; not an array, or no such key: None.
    #[test]
    fn arrays_read_element_by_element() {
        let d = Doc::parse(
            r#"{"a": ["x", 1.50, null, {"b": 1, "a": [2]}, 123456789012345678901234567891],
                "m": {"a": [true]}, "s": "x", "o": {}}"#,
        )
        .expect("json");
        let s = |v: &str| Some(v.to_string());
        assert_eq!(
            d.get_array(None, "a"),
            Some(vec![
                s("x"),
                s("1.50"),
                None,
                s(r#"{"a": [2], "b": 1}"#),
                s("123456789012345678901234567891")
            ])
        );
        assert_eq!(d.get_array(Some("m"), "a"), Some(vec![s("true")]));
        assert_eq!(d.get_array(None, "s"), None);
        assert_eq!(d.get_array(None, "o"), None);
        assert_eq!(d.get_array(None, "nope"), None);
        assert_eq!(d.get_array(Some("s"), "a"), None);
        assert_eq!(Doc::parse("[1]").expect("json").get_array(None, "a"), None);
        assert_eq!(
            Doc::parse(r#"{"a": []}"#)
                .expect("json")
                .get_array(None, "a"),
            Some(vec![])
        );
    }

    #[test]
    fn deep_nesting_does_not_recurse() {
        let deep = format!(
            r#"{{"x": {}1{}, "tenant_id": {}2{}}}"#,
            "[".repeat(200_000),
            "]".repeat(200_000),
            "[".repeat(3),
            "]".repeat(3)
        );
        assert_eq!(tenant(&deep).as_deref(), Some("[[[2]]]"));
    }
}
