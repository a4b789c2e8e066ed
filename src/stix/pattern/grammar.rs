//! A STIX 2.1 pattern read by the grammar (STIX 2.1 part 9, the OASIS `STIXPattern.g4`) into a
//! tree, plus the checks the OASIS validator (`stix2-patterns`) adds to the grammar, so that
//! what Harpoon accepts is what the reference tooling accepts. Bounded: the input length and the
//! parenthesis nesting are capped, so hostile input can neither exhaust the stack nor the heap.
//! Pure: no I/O.

use std::fmt;

use super::lexer::{Keyword, Tok, is_space, tokens};

/// Longest pattern read. Real indicators list at most a few thousand values; a POST envelope is
/// capped well above this anyway.
pub const MAX_PATTERN_BYTES: usize = 256 * 1024;

/// Deepest nesting of parentheses (observation and comparison levels together). Far above any
/// real pattern, far below what the recursion could take.
pub const MAX_DEPTH: usize = 64;

/// A whole pattern: observation expressions joined by `FOLLOWEDBY`, `OR` and `AND`.
#[derive(Debug, Clone, PartialEq)]
pub enum Observation {
    /// `[ comparison ]`.
    Bracket(Comparison),
    /// `( observation )`: kept, since qualifiers apply to the group.
    Group(Box<Observation>),
    Qualified(Box<Observation>, Qualifier),
    And(Vec<Observation>),
    Or(Vec<Observation>),
    FollowedBy(Vec<Observation>),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Qualifier {
    /// `WITHIN n SECONDS` (the number as written: an integer or a float).
    Within(String),
    /// `REPEATS n TIMES` (the digits as written).
    Repeats(String),
    /// `START t'…' STOP t'…'` (the timestamps' text).
    StartStop(String, String),
}

/// The inside of one `[ … ]`.
#[derive(Debug, Clone, PartialEq)]
pub enum Comparison {
    Test(PropTest),
    And(Vec<Comparison>),
    Or(Vec<Comparison>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operator {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    In,
    Like,
    Matches,
    IsSubset,
    IsSuperset,
    Exists,
}

/// `path [NOT] op value`, or `EXISTS path` (then `value` is `None`).
#[derive(Debug, Clone, PartialEq)]
pub struct PropTest {
    pub path: ObjectPath,
    pub negated: bool,
    pub op: Operator,
    pub value: Option<Literal>,
}

/// `type:first.key[index]…`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectPath {
    pub object_type: String,
    /// The first property and the steps after it, in order.
    pub steps: Vec<Step>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// A property name, unquoted (a quoted key is unescaped).
    Key(String),
    /// `[n]` (negative counts from the end).
    Index(i64),
    /// `[*]`.
    AnyIndex,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    /// A string, unescaped.
    String(String),
    /// An integer as written (sign included): the grammar puts no bound on it.
    Int(String),
    /// A float as written.
    Float(String),
    Bool(bool),
    /// `h'…'`, decoded.
    Hex(Vec<u8>),
    /// `b'…'`, the base64 text.
    Binary(String),
    /// `t'…'`, the timestamp text.
    Timestamp(String),
    /// `( v, … )` after `IN`.
    Set(Vec<Literal>),
}

/// Why a pattern is not valid: where, and what was expected there.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("at byte {offset} (line {line}, column {column}): {message}")]
pub struct PatternError {
    /// Byte offset into the pattern.
    pub offset: usize,
    /// 1-based line and column (in characters).
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl PatternError {
    fn new(input: &str, offset: usize, message: String) -> Self {
        let before = input.get(..offset).unwrap_or(input);
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        Self { offset, line, column, message }
    }
}

/// Parses a STIX 2.1 pattern.
pub fn parse(input: &str) -> Result<Observation, PatternError> {
    if input.len() > MAX_PATTERN_BYTES {
        return Err(PatternError::new(
            input,
            MAX_PATTERN_BYTES,
            format!("pattern longer than {MAX_PATTERN_BYTES} bytes"),
        ));
    }
    // The OASIS validator requires the first thing after any opening parentheses to be `[`
    // (so a leading comment is refused although the grammar skips it).
    if let Some((at, c)) = input.char_indices().find(|(_, c)| *c != '(' && !is_space(*c))
        && c != '['
    {
        return Err(PatternError::new(input, at, format!("expected `[` or `(`, found `{c}`")));
    }
    let tokens = tokens(input);
    let mut parser = Parser { input, tokens, at: 0, depth: 0 };
    let tree = parser.observations()?;
    parser.expect_end()?;
    Ok(tree)
}

struct Parser<'a> {
    input: &'a str,
    tokens: Vec<(usize, Tok<'a>)>,
    at: usize,
    depth: usize,
}

type Parsed<T> = Result<T, PatternError>;

impl<'a> Parser<'a> {
    fn peek(&self) -> Tok<'a> {
        self.tokens.get(self.at).map_or(Tok::Eof, |(_, t)| *t)
    }

    fn offset(&self) -> usize {
        self.tokens.get(self.at).map_or(self.input.len(), |(o, _)| *o)
    }

    fn bump(&mut self) -> Tok<'a> {
        let tok = self.peek();
        self.at += 1;
        tok
    }

    fn error<T>(&self, expected: &str) -> Parsed<T> {
        Err(self.error_at(self.offset(), format!("expected {expected}, found {}", self.peek().describe())))
    }

    fn error_at(&self, offset: usize, message: String) -> PatternError {
        PatternError::new(self.input, offset, message)
    }

    fn keyword(&mut self, k: Keyword) -> bool {
        if self.peek() == Tok::Keyword(k) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, tok: Tok<'_>, expected: &str) -> Parsed<()> {
        if self.peek() == tok {
            self.at += 1;
            Ok(())
        } else {
            self.error(expected)
        }
    }

    fn expect_end(&mut self) -> Parsed<()> {
        if self.peek() == Tok::Eof {
            Ok(())
        } else {
            self.error("`AND`, `OR`, `FOLLOWEDBY`, a qualifier or the end of the pattern")
        }
    }

    fn enter(&mut self) -> Parsed<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.error_at(self.offset(), format!("parentheses nested deeper than {MAX_DEPTH}")));
        }
        Ok(())
    }

    /// `FOLLOWEDBY` binds loosest, then `OR`, then `AND`.
    fn observations(&mut self) -> Parsed<Observation> {
        let mut parts = vec![self.observation_or()?];
        while self.keyword(Keyword::FollowedBy) {
            parts.push(self.observation_or()?);
        }
        Ok(if parts.len() == 1 { parts.remove(0) } else { Observation::FollowedBy(parts) })
    }

    fn observation_or(&mut self) -> Parsed<Observation> {
        let mut parts = vec![self.observation_and()?];
        while self.keyword(Keyword::Or) {
            parts.push(self.observation_and()?);
        }
        Ok(if parts.len() == 1 { parts.remove(0) } else { Observation::Or(parts) })
    }

    fn observation_and(&mut self) -> Parsed<Observation> {
        let mut parts = vec![self.observation()?];
        while self.keyword(Keyword::And) {
            parts.push(self.observation()?);
        }
        Ok(if parts.len() == 1 { parts.remove(0) } else { Observation::And(parts) })
    }

    /// `[ … ]` or `( … )`, then any qualifiers.
    fn observation(&mut self) -> Parsed<Observation> {
        let mut tree = match self.peek() {
            Tok::LBrack => {
                self.at += 1;
                let comparison = self.comparison_or()?;
                self.expect(Tok::RBrack, "`]`, `AND` or `OR`")?;
                Observation::Bracket(comparison)
            }
            Tok::LParen => {
                self.enter()?;
                self.at += 1;
                let inner = self.observations()?;
                self.expect(Tok::RParen, "`)`, `AND`, `OR`, `FOLLOWEDBY` or a qualifier")?;
                self.depth -= 1;
                Observation::Group(Box::new(inner))
            }
            _ => return self.error("`[` or `(`"),
        };
        // The OASIS validator refuses the same kind of qualifier twice on one `[ … ]` (a group
        // may carry it twice).
        let bracket = matches!(tree, Observation::Bracket(_));
        let mut seen: Vec<std::mem::Discriminant<Qualifier>> = Vec::new();
        loop {
            let start = self.offset();
            let qualifier = match self.peek() {
                Tok::Keyword(Keyword::Within) => {
                    self.at += 1;
                    let n = match self.bump() {
                        Tok::IntPos(n) | Tok::FloatPos(n) => n.to_owned(),
                        _ => {
                            self.at -= 1;
                            return self.error("a positive number of seconds");
                        }
                    };
                    self.expect(Tok::Keyword(Keyword::Seconds), "`SECONDS`")?;
                    Qualifier::Within(n)
                }
                Tok::Keyword(Keyword::Repeats) => {
                    self.at += 1;
                    let Tok::IntPos(n) = self.peek() else { return self.error("a positive integer") };
                    self.at += 1;
                    self.expect(Tok::Keyword(Keyword::Times), "`TIMES`")?;
                    Qualifier::Repeats(n.to_owned())
                }
                Tok::Keyword(Keyword::Start) => {
                    self.at += 1;
                    let Tok::Timestamp(start) = self.peek() else {
                        return self.error("a timestamp `t'…'`");
                    };
                    self.at += 1;
                    self.expect(Tok::Keyword(Keyword::Stop), "`STOP`")?;
                    let Tok::Timestamp(stop) = self.peek() else {
                        return self.error("a timestamp `t'…'`");
                    };
                    self.at += 1;
                    Qualifier::StartStop(start.to_owned(), stop.to_owned())
                }
                _ => break,
            };
            let kind = std::mem::discriminant(&qualifier);
            if bracket && seen.contains(&kind) {
                return Err(self.error_at(start, "the same qualifier twice on one observation".into()));
            }
            seen.push(kind);
            tree = Observation::Qualified(Box::new(tree), qualifier);
        }
        Ok(tree)
    }

    fn comparison_or(&mut self) -> Parsed<Comparison> {
        let mut parts = vec![self.comparison_and()?];
        while self.keyword(Keyword::Or) {
            parts.push(self.comparison_and()?);
        }
        Ok(if parts.len() == 1 { parts.remove(0) } else { Comparison::Or(parts) })
    }

    fn comparison_and(&mut self) -> Parsed<Comparison> {
        let mut parts = vec![self.prop_test()?];
        while self.keyword(Keyword::And) {
            parts.push(self.prop_test()?);
        }
        Ok(if parts.len() == 1 { parts.remove(0) } else { Comparison::And(parts) })
    }

    fn prop_test(&mut self) -> Parsed<Comparison> {
        if self.peek() == Tok::LParen {
            self.enter()?;
            self.at += 1;
            let inner = self.comparison_or()?;
            self.expect(Tok::RParen, "`)`, `AND` or `OR`")?;
            self.depth -= 1;
            return Ok(inner);
        }
        // `[NOT] EXISTS path` (the released grammar allows the NOT).
        let not_exists = self.peek() == Tok::Keyword(Keyword::Not)
            && self.tokens.get(self.at + 1).is_some_and(|(_, t)| *t == Tok::Keyword(Keyword::Exists));
        if not_exists || self.peek() == Tok::Keyword(Keyword::Exists) {
            self.at += if not_exists { 2 } else { 1 };
            let path = self.object_path()?;
            return Ok(Comparison::Test(PropTest {
                path,
                negated: not_exists,
                op: Operator::Exists,
                value: None,
            }));
        }
        let path = self.object_path()?;
        let negated = self.keyword(Keyword::Not);
        let op = match self.peek() {
            Tok::Eq => Operator::Eq,
            Tok::Ne => Operator::Ne,
            Tok::Lt => Operator::Lt,
            Tok::Le => Operator::Le,
            Tok::Gt => Operator::Gt,
            Tok::Ge => Operator::Ge,
            Tok::Keyword(Keyword::In) => Operator::In,
            Tok::Keyword(Keyword::Like) => Operator::Like,
            Tok::Keyword(Keyword::Matches) => Operator::Matches,
            Tok::Keyword(Keyword::IsSubset) => Operator::IsSubset,
            Tok::Keyword(Keyword::IsSuperset) => Operator::IsSuperset,
            _ if negated => return self.error("a comparison operator after `NOT`"),
            _ => return self.error("a comparison operator (=, !=, <, <=, >, >=, IN, LIKE, MATCHES, ISSUBSET, ISSUPERSET) or `NOT`"),
        };
        self.at += 1;
        let value_start = self.at;
        let value = match op {
            Operator::Eq | Operator::Ne => self.literal(true)?,
            Operator::Lt | Operator::Le | Operator::Gt | Operator::Ge => self.literal(false)?,
            Operator::In => self.set()?,
            _ => match self.peek() {
                Tok::Str(s) => {
                    self.at += 1;
                    Literal::String(unescape(s))
                }
                _ => return self.error("a string"),
            },
        };
        self.check_hash(&path, value_start)?;
        Ok(Comparison::Test(PropTest { path, negated, op, value: Some(value) }))
    }

    /// The OASIS validator's hash check: a comparison on `…hashes.<algorithm>` for an algorithm
    /// it knows must compare against a well-formed digest. Like the reference, it looks at the
    /// value's text with every `'` removed (so a number or a set never passes).
    fn check_hash(&self, path: &ObjectPath, value_start: usize) -> Parsed<()> {
        let has_hashes = path.steps.iter().any(|s| matches!(s, Step::Key(k) if k == "hashes"));
        let Some(Step::Key(algorithm)) = path.steps.last() else { return Ok(()) };
        if !has_hashes {
            return Ok(());
        }
        let name: String = algorithm.to_uppercase().chars().filter(|c| *c != '-' && *c != '\'').collect();
        let Some(ok) = digest_rule(&name) else { return Ok(()) };
        let from = self.tokens.get(value_start).map_or(0, |(o, _)| *o);
        let to = self.offset();
        let raw = self.input.get(from..to).unwrap_or_default();
        // Token texts joined without the whitespace between them, as ANTLR's getText() does.
        let mut text = String::new();
        for (_, tok) in self.tokens.get(value_start..self.at).unwrap_or_default() {
            text.push_str(&token_text(tok));
        }
        let text: String = text.chars().filter(|c| *c != '\'').collect();
        // Python's `$` also matches before one final newline.
        let body = text.strip_suffix('\n').unwrap_or(&text);
        if ok(body) {
            Ok(())
        } else {
            let shown: String = raw.trim_end().chars().take(140).collect();
            Err(self.error_at(from, format!("{shown} is not a valid {algorithm} hash")))
        }
    }

    fn object_path(&mut self) -> Parsed<ObjectPath> {
        let object_type = match self.peek() {
            Tok::Ident(t) | Tok::HyphenIdent(t) => t.to_owned(),
            _ => return self.error("an object type (like `file`), `EXISTS`, `NOT EXISTS` or `(`"),
        };
        self.at += 1;
        self.expect(Tok::Colon, "`:`")?;
        let first = match self.peek() {
            Tok::Ident(p) => p.to_owned(),
            Tok::Str(s) => unescape(s),
            _ => return self.error("a property name (letters, digits, `_`; quoted if it has others)"),
        };
        self.at += 1;
        let mut steps = vec![Step::Key(first)];
        loop {
            match self.peek() {
                Tok::Dot => {
                    self.at += 1;
                    let key = match self.peek() {
                        Tok::Ident(p) => p.to_owned(),
                        Tok::Str(s) => unescape(s),
                        _ => {
                            return self
                                .error("a property name (letters, digits, `_`; quoted if it has others)");
                        }
                    };
                    self.at += 1;
                    steps.push(Step::Key(key));
                }
                Tok::LBrack => {
                    self.at += 1;
                    let step = match self.peek() {
                        Tok::Star => Step::AnyIndex,
                        Tok::IntPos(n) | Tok::IntNeg(n) => match n.parse::<i64>() {
                            Ok(i) => Step::Index(i),
                            Err(_) => return self.error("a list index that fits 64 bits"),
                        },
                        _ => return self.error("a list index or `*`"),
                    };
                    self.at += 1;
                    self.expect(Tok::RBrack, "`]`")?;
                    steps.push(step);
                }
                _ => break,
            }
        }
        Ok(ObjectPath { object_type, steps })
    }

    /// A constant; `bool` says whether `true`/`false` are allowed (not with `<` and friends).
    fn literal(&mut self, bool_ok: bool) -> Parsed<Literal> {
        let value = match self.peek() {
            Tok::Str(s) => Literal::String(unescape(s)),
            Tok::IntPos(n) | Tok::IntNeg(n) => Literal::Int(n.to_owned()),
            Tok::FloatPos(n) | Tok::FloatNeg(n) => Literal::Float(n.to_owned()),
            Tok::Bool(b) if bool_ok => Literal::Bool(b),
            Tok::Hex(h) => Literal::Hex(decode_hex(h)),
            Tok::Binary(b) => Literal::Binary(inner(b).to_owned()),
            Tok::Timestamp(t) => Literal::Timestamp(inner(t).to_owned()),
            _ if bool_ok => return self.error("a constant (string, number, boolean, h'…', b'…' or t'…')"),
            _ => return self.error("an orderable constant (string, number, h'…', b'…' or t'…')"),
        };
        self.at += 1;
        Ok(value)
    }

    /// `( )` or `( v, v, … )`.
    fn set(&mut self) -> Parsed<Literal> {
        self.expect(Tok::LParen, "`(` opening a set")?;
        let mut values = Vec::new();
        if self.peek() == Tok::RParen {
            self.at += 1;
            return Ok(Literal::Set(values));
        }
        loop {
            values.push(self.literal(true)?);
            match self.bump() {
                Tok::Comma => {}
                Tok::RParen => return Ok(Literal::Set(values)),
                _ => {
                    self.at -= 1;
                    return self.error("`,` or `)`");
                }
            }
        }
    }
}

/// The text ANTLR's `getText()` gives a token.
fn token_text(tok: &Tok<'_>) -> String {
    match tok {
        Tok::IntPos(s)
        | Tok::IntNeg(s)
        | Tok::FloatPos(s)
        | Tok::FloatNeg(s)
        | Tok::Hex(s)
        | Tok::Binary(s)
        | Tok::Str(s)
        | Tok::Timestamp(s)
        | Tok::Ident(s)
        | Tok::HyphenIdent(s)
        | Tok::Other(s) => (*s).to_owned(),
        Tok::Bool(b) => b.to_string(),
        Tok::Comma => ",".into(),
        Tok::LParen => "(".into(),
        Tok::RParen => ")".into(),
        _ => String::new(),
    }
}

/// Hash algorithm names as the OASIS validator normalises them (upper case, no `-`), with what a
/// digest must look like. MD6's reference check is looser (see stix-schemas/README.md); we
/// hold it to its real lengths.
fn digest_rule(name: &str) -> Option<fn(&str) -> bool> {
    fn hex_of(s: &str, lengths: &[usize]) -> bool {
        lengths.contains(&s.len()) && s.bytes().all(|b| b.is_ascii_hexdigit())
    }
    Some(match name {
        "MD5" => |s| hex_of(s, &[32]),
        "RIPEMD160" | "SHA1" => |s| hex_of(s, &[40]),
        "SHA224" | "SHA3224" => |s| hex_of(s, &[56]),
        "SHA256" | "SHA3256" => |s| hex_of(s, &[64]),
        "SHA384" | "SHA3384" => |s| hex_of(s, &[96]),
        "SHA512" | "SHA3512" | "WHIRLPOOL" => |s| hex_of(s, &[128]),
        "MD6" => |s| hex_of(s, &[32, 40, 56, 64, 96, 128]),
        "SSDEEP" => |s| {
            (1..=128).contains(&s.len())
                && s.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'+' | b':' | b'.'))
        },
        _ => return None,
    })
}

/// The text between a literal's quotes (`'…'`, `h'…'`, `b'…'`, `t'…'`).
fn inner(token: &str) -> &str {
    let start = token.find('\'').map_or(0, |i| i + 1);
    token.get(start..token.len().saturating_sub(1)).unwrap_or_default()
}

/// A string literal's value: `\'` and `\\` are the only escapes the grammar has.
fn unescape(token: &str) -> String {
    let mut out = String::with_capacity(token.len());
    let mut chars = inner(token).chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(next) = chars.next() {
                out.push(next);
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn decode_hex(token: &str) -> Vec<u8> {
    inner(token)
        .as_bytes()
        .chunks(2)
        .filter_map(|pair| std::str::from_utf8(pair).ok().and_then(|p| u8::from_str_radix(p, 16).ok()))
        .collect()
}

impl fmt::Display for Operator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Operator::Eq => "=",
            Operator::Ne => "!=",
            Operator::Lt => "<",
            Operator::Le => "<=",
            Operator::Gt => ">",
            Operator::Ge => ">=",
            Operator::In => "IN",
            Operator::Like => "LIKE",
            Operator::Matches => "MATCHES",
            Operator::IsSubset => "ISSUBSET",
            Operator::IsSuperset => "ISSUPERSET",
            Operator::Exists => "EXISTS",
        })
    }
}

impl fmt::Display for ObjectPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:", self.object_type)?;
        for (i, step) in self.steps.iter().enumerate() {
            match step {
                Step::Key(k)
                    if k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
                        && k.bytes().next().is_some_and(|b| !b.is_ascii_digit()) =>
                {
                    if i > 0 {
                        f.write_str(".")?;
                    }
                    f.write_str(k)?;
                }
                Step::Key(k) => {
                    if i > 0 {
                        f.write_str(".")?;
                    }
                    f.write_str(&super::quote(k))?;
                }
                Step::Index(n) => write!(f, "[{n}]")?,
                Step::AnyIndex => f.write_str("[*]")?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(p: &str) -> Observation {
        parse(p).unwrap_or_else(|e| panic!("{p}: {e}"))
    }

    fn err(p: &str) -> PatternError {
        parse(p).expect_err(p)
    }

    #[test]
    fn precedence_and_qualifiers() {
        let tree = ok("[a:b = 1] AND [c:d = 2] OR [e:f = 3] FOLLOWEDBY [g:h = 4] WITHIN 5 SECONDS");
        let Observation::FollowedBy(parts) = tree else { panic!("FOLLOWEDBY binds loosest") };
        assert!(matches!(&parts[0], Observation::Or(or) if matches!(or[0], Observation::And(_))));
        assert!(matches!(&parts[1], Observation::Qualified(_, Qualifier::Within(n)) if n == "5"));
        let Observation::Bracket(Comparison::Or(or)) = ok("[a:b = 1 OR c:d = 2 AND e:f = 3]") else {
            panic!("OR of AND")
        };
        assert!(matches!(or[1], Comparison::And(_)));
        ok("([a:b = 1] REPEATS 2 TIMES) START t'2020-01-01T00:00:00Z' STOP t'2020-01-02T00:00:00.5Z'");
        ok("([a:b = 1] WITHIN 1 SECONDS) WITHIN 2.5 SECONDS");
        assert!(err("[a:b = 1] WITHIN 1 SECONDS WITHIN 2 SECONDS").message.contains("qualifier twice"));
        ok("([a:b = 1]) WITHIN 1 SECONDS WITHIN 2 SECONDS");
    }

    #[test]
    fn paths_and_constants() {
        let Observation::Bracket(Comparison::Test(t)) = ok(
            "[file:hashes.'SHA-256' = 'aabbccddeeff00112233445566778899aabbccddeeff00112233445566778899']",
        ) else {
            panic!()
        };
        assert_eq!(t.path.steps, vec![Step::Key("hashes".into()), Step::Key("SHA-256".into())]);
        assert_eq!(t.path.to_string(), "file:hashes.'SHA-256'");
        let Observation::Bracket(Comparison::Test(t)) = ok(
            "[x-y:a[*].'b c'[-1] NOT IN ('it\\'s', 1, -2.5, true, h'0aff', b'AA==', t'2020-02-30T00:00:60Z')]",
        ) else {
            panic!()
        };
        assert!(t.negated);
        assert_eq!(
            t.path.steps,
            vec![Step::Key("a".into()), Step::AnyIndex, Step::Key("b c".into()), Step::Index(-1)]
        );
        assert_eq!(
            t.value,
            Some(Literal::Set(vec![
                Literal::String("it's".into()),
                Literal::Int("1".into()),
                Literal::Float("-2.5".into()),
                Literal::Bool(true),
                Literal::Hex(vec![0x0a, 0xff]),
                Literal::Binary("AA==".into()),
                Literal::Timestamp("2020-02-30T00:00:60Z".into()),
            ]))
        );
        ok(
            "[a:b NOT = 'x' AND NOT EXISTS a:c AND (a:d LIKE 'x%' OR a:e MATCHES '^x$') AND a:f ISSUBSET '10.0.0.0/8']",
        );
        ok("[a:b IN ()]");
    }

    #[test]
    fn errors_name_position_and_expectation() {
        let e = err("[domain-name:value == 'x' AND]");
        assert_eq!((e.offset, e.column), (29, 30));
        assert!(e.message.contains("expected an object type"), "{e}");
        let e = err("[file:name = 'a'] AND\n  [file:size > true]");
        assert_eq!((e.line, e.column), (2, 16));
        assert!(e.message.contains("orderable constant"), "{e}");
        assert!(err("[a:b-c = 1]").message.contains("property name"));
        assert!(err("[a:b and 1]").message.contains("comparison operator"));
        assert!(err("[a:b = 'x'").message.contains("`]`"));
        assert!(err("[a:b = 'x'] [c:d = 1]").message.contains("end of the pattern"));
        assert!(err("/* c */ [a:b = 1]").message.contains("expected `[`"));
        assert!(err("").message.contains("`[` or `(`"));
        assert!(err("[file:hashes.MD5 = 'abc']").message.contains("not a valid MD5 hash"));
        assert!(err("[file:hashes.MD5 IN ('d41d8cd98f00b204e9800998ecf8427e')]").message.contains("hash"));
    }

    #[test]
    fn hostile_input_is_bounded() {
        let deep = format!("{}[a:b = 1]{}", "(".repeat(100_000), ")".repeat(100_000));
        assert!(err(&deep).message.contains("nested deeper"));
        let deep = format!("[{}a:b = 1{}]", "(".repeat(100_000), ")".repeat(100_000));
        assert!(err(&deep).message.contains("nested deeper"));
        let long = format!("[a:b = '{}']", "x".repeat(MAX_PATTERN_BYTES));
        assert!(err(&long).message.contains("longer than"));
        let wide = vec!["[a:b = 1]"; 10_000].join(" OR ");
        assert!(matches!(ok(&wide), Observation::Or(v) if v.len() == 10_000));
    }
}
