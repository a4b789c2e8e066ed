//! Tokens of the STIX 2.1 patterning language (STIX 2.1 part 9 and the OASIS `STIXPattern.g4`
//! lexer rules): longest match wins, and on a tie the rule the grammar lists first (keywords
//! before identifiers, identifiers without hyphens before those with). Whitespace and comments
//! are skipped; a character no rule takes becomes [`Tok::Other`], which no grammar rule accepts,
//! so lexing itself never fails.

/// The reserved words: exact, upper case (`true`/`false` are literals).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keyword {
    And,
    Or,
    Not,
    FollowedBy,
    Like,
    Matches,
    IsSuperset,
    IsSubset,
    Exists,
    Last,
    In,
    Start,
    Stop,
    Seconds,
    Within,
    Repeats,
    Times,
}

const KEYWORDS: &[(&str, Keyword)] = &[
    ("AND", Keyword::And),
    ("OR", Keyword::Or),
    ("NOT", Keyword::Not),
    ("FOLLOWEDBY", Keyword::FollowedBy),
    ("LIKE", Keyword::Like),
    ("MATCHES", Keyword::Matches),
    ("ISSUPERSET", Keyword::IsSuperset),
    ("ISSUBSET", Keyword::IsSubset),
    ("EXISTS", Keyword::Exists),
    ("LAST", Keyword::Last),
    ("IN", Keyword::In),
    ("START", Keyword::Start),
    ("STOP", Keyword::Stop),
    ("SECONDS", Keyword::Seconds),
    ("WITHIN", Keyword::Within),
    ("REPEATS", Keyword::Repeats),
    ("TIMES", Keyword::Times),
];

impl Keyword {
    pub fn text(self) -> &'static str {
        KEYWORDS.iter().find(|(_, k)| *k == self).map_or("?", |(t, _)| t)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tok<'a> {
    IntPos(&'a str),
    IntNeg(&'a str),
    FloatPos(&'a str),
    FloatNeg(&'a str),
    /// `h'…'`, the whole token.
    Hex(&'a str),
    /// `b'…'`, the whole token.
    Binary(&'a str),
    /// `'…'`, the whole token, still escaped.
    Str(&'a str),
    Bool(bool),
    /// `t'…'`, the whole token.
    Timestamp(&'a str),
    Keyword(Keyword),
    /// `[a-zA-Z_][a-zA-Z0-9_]*`: an object type or a property name.
    Ident(&'a str),
    /// An identifier with a hyphen: only an object type.
    HyphenIdent(&'a str),
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Colon,
    Dot,
    Comma,
    LParen,
    RParen,
    LBrack,
    RBrack,
    Star,
    /// Anything no grammar rule accepts (a lone quote, `+`, `-`, `^`, `/`, `!`, …).
    Other(&'a str),
    Eof,
}

impl Tok<'_> {
    /// How an error message names what was found.
    pub fn describe(&self) -> String {
        let quoted = |s: &str| {
            let short: String = s.chars().take(40).collect();
            if short.len() < s.len() { format!("`{short}…`") } else { format!("`{short}`") }
        };
        match self {
            Tok::IntPos(s) | Tok::IntNeg(s) => format!("integer {}", quoted(s)),
            Tok::FloatPos(s) | Tok::FloatNeg(s) => format!("float {}", quoted(s)),
            Tok::Hex(s) => format!("hex literal {}", quoted(s)),
            Tok::Binary(s) => format!("binary literal {}", quoted(s)),
            Tok::Str(s) => format!("string {}", quoted(s)),
            Tok::Bool(b) => format!("`{b}`"),
            Tok::Timestamp(s) => format!("timestamp {}", quoted(s)),
            Tok::Keyword(k) => format!("keyword `{}`", k.text()),
            Tok::Ident(s) | Tok::HyphenIdent(s) => format!("identifier {}", quoted(s)),
            Tok::Other(s) => quoted(s),
            Tok::Eof => "the end of the pattern".into(),
            punct => format!("`{}`", punct_text(punct)),
        }
    }
}

fn punct_text(tok: &Tok<'_>) -> &'static str {
    match tok {
        Tok::Eq => "=",
        Tok::Ne => "!=",
        Tok::Lt => "<",
        Tok::Le => "<=",
        Tok::Gt => ">",
        Tok::Ge => ">=",
        Tok::Colon => ":",
        Tok::Dot => ".",
        Tok::Comma => ",",
        Tok::LParen => "(",
        Tok::RParen => ")",
        Tok::LBrack => "[",
        Tok::RBrack => "]",
        Tok::Star => "*",
        _ => "?",
    }
}

/// The grammar's `WS` set.
pub fn is_space(c: char) -> bool {
    matches!(
        c,
        ' ' | '\t' | '\r' | '\n' | '\u{0B}' | '\u{0C}' | '\u{85}' | '\u{A0}' | '\u{1680}' | '\u{2000}'
            ..='\u{200A}' | '\u{2028}' | '\u{2029}' | '\u{202F}' | '\u{205F}' | '\u{3000}'
    )
}

/// Splits a pattern into tokens with their byte offsets; the last is [`Tok::Eof`].
pub fn tokens(input: &str) -> Vec<(usize, Tok<'_>)> {
    let mut out = Vec::new();
    let mut at = 0;
    while let Some(rest) = input.get(at..) {
        let Some(c) = rest.chars().next() else { break };
        if is_space(c) {
            at += c.len_utf8();
            continue;
        }
        if let Some(after) = rest.strip_prefix("/*")
            && let Some(end) = after.find("*/")
        {
            at += 2 + end + 2;
            continue;
        }
        if rest.starts_with("//") {
            at += rest.find(['\r', '\n']).unwrap_or(rest.len());
            continue;
        }
        let (len, tok) = next(rest, c);
        out.push((at, tok));
        at += len.max(1);
    }
    out.push((input.len(), Tok::Eof));
    out
}

/// The longest token at the start of `rest` (which starts with `c`).
fn next(rest: &str, c: char) -> (usize, Tok<'_>) {
    let b = rest.as_bytes();
    let byte = |i: usize| b.get(i).copied().unwrap_or(0);
    let text = |n: usize| rest.get(..n).unwrap_or_default();
    let single = || (c.len_utf8(), Tok::Other(rest.get(..c.len_utf8()).unwrap_or_default()));
    match c {
        '0'..='9' | '+' | '-' | '.' => {
            let negative = c == '-';
            let sign = usize::from(c == '+' || c == '-');
            let int = int_len(b, sign).map(|n| n + sign);
            let float = float_len(b, sign).map(|n| n + sign);
            match (int, float) {
                (_, Some(n)) if int.is_none_or(|i| n > i) => {
                    (n, if negative { Tok::FloatNeg(text(n)) } else { Tok::FloatPos(text(n)) })
                }
                (Some(n), _) => (n, if negative { Tok::IntNeg(text(n)) } else { Tok::IntPos(text(n)) }),
                _ if c == '.' => (1, Tok::Dot),
                _ => single(),
            }
        }
        'a'..='z' | 'A'..='Z' | '_' => {
            let plain = 1 + b.iter().skip(1).take_while(|x| x.is_ascii_alphanumeric() || **x == b'_').count();
            let hyphen = 1 + b
                .iter()
                .skip(1)
                .take_while(|x| x.is_ascii_alphanumeric() || **x == b'_' || **x == b'-')
                .count();
            let literal = if byte(1) == b'\'' {
                match c {
                    'h' => hex_len(b).map(|n| (n, Tok::Hex(text(n)))),
                    'b' => binary_len(b).map(|n| (n, Tok::Binary(text(n)))),
                    't' => timestamp_len(b).map(|n| (n, Tok::Timestamp(text(n)))),
                    _ => None,
                }
            } else {
                None
            };
            if let Some((n, tok)) = literal
                && n >= hyphen
            {
                return (n, tok);
            }
            if hyphen > plain {
                return (hyphen, Tok::HyphenIdent(text(hyphen)));
            }
            let word = text(plain);
            let tok = match word {
                "true" => Tok::Bool(true),
                "false" => Tok::Bool(false),
                _ => KEYWORDS
                    .iter()
                    .find(|(t, _)| *t == word)
                    .map_or(Tok::Ident(word), |(_, k)| Tok::Keyword(*k)),
            };
            (plain, tok)
        }
        '\'' => match string_len(b) {
            Some(n) => (n, Tok::Str(text(n))),
            None => single(),
        },
        '=' => {
            if byte(1) == b'=' {
                (2, Tok::Eq)
            } else {
                (1, Tok::Eq)
            }
        }
        '!' if byte(1) == b'=' => (2, Tok::Ne),
        '<' => match byte(1) {
            b'>' => (2, Tok::Ne),
            b'=' => (2, Tok::Le),
            _ => (1, Tok::Lt),
        },
        '>' => {
            if byte(1) == b'=' {
                (2, Tok::Ge)
            } else {
                (1, Tok::Gt)
            }
        }
        ':' => (1, Tok::Colon),
        ',' => (1, Tok::Comma),
        '(' => (1, Tok::LParen),
        ')' => (1, Tok::RParen),
        '[' => (1, Tok::LBrack),
        ']' => (1, Tok::RBrack),
        '*' => (1, Tok::Star),
        _ => single(),
    }
}

fn digits(b: &[u8], from: usize) -> usize {
    b.iter().skip(from).take_while(|x| x.is_ascii_digit()).count()
}

/// `'0' | [1-9][0-9]*` from `from`.
fn int_len(b: &[u8], from: usize) -> Option<usize> {
    match b.get(from)? {
        b'0' => Some(1),
        b'1'..=b'9' => Some(digits(b, from)),
        _ => None,
    }
}

/// `[0-9]* '.' [0-9]+` from `from`.
fn float_len(b: &[u8], from: usize) -> Option<usize> {
    let whole = digits(b, from);
    if b.get(from + whole) != Some(&b'.') {
        return None;
    }
    let fraction = digits(b, from + whole + 1);
    (fraction > 0).then_some(whole + 1 + fraction)
}

/// `'` (`\'` | `\\` | anything but `'` and `\`)* `'`.
fn string_len(b: &[u8]) -> Option<usize> {
    let mut i = 1;
    loop {
        match b.get(i)? {
            b'\'' => return Some(i + 1),
            b'\\' => match b.get(i + 1)? {
                b'\'' | b'\\' => i += 2,
                _ => return None,
            },
            _ => i += 1,
        }
    }
}

/// `h'` (two hex digits)* `'`.
fn hex_len(b: &[u8]) -> Option<usize> {
    let n = b.iter().skip(2).take_while(|x| x.is_ascii_hexdigit()).count();
    (n % 2 == 0 && b.get(2 + n) == Some(&b'\'')).then_some(n + 3)
}

/// `b'` base64 in whole quanta, at least one, padded as RFC 4648 says, `'`.
fn binary_len(b: &[u8]) -> Option<usize> {
    let n = b.iter().skip(2).take_while(|x| x.is_ascii_alphanumeric() || **x == b'+' || **x == b'/').count();
    let pad = b.iter().skip(2 + n).take_while(|x| **x == b'=').count();
    let ok = match pad {
        0 => n >= 4 && n % 4 == 0,
        1 => n % 4 == 3,
        2 => n % 4 == 2,
        _ => false,
    };
    (ok && b.get(2 + n + pad) == Some(&b'\'')).then_some(n + pad + 3)
}

/// `t'YYYY-MM-DDTHH:MM:SS(.fraction)?Z'` with the grammar's field ranges (month 01–12, day
/// 01–31, hour 00–23, minute 00–59, second 00–60); the calendar is not consulted.
fn timestamp_len(b: &[u8]) -> Option<usize> {
    let at = |i: usize| b.get(i).copied().unwrap_or(0);
    let num = |i: usize| -> Option<u32> {
        let (x, y) = (at(i), at(i + 1));
        (x.is_ascii_digit() && y.is_ascii_digit()).then(|| u32::from(x - b'0') * 10 + u32::from(y - b'0'))
    };
    let year = (2..6).all(|i| at(i).is_ascii_digit());
    let shape = year
        && at(6) == b'-'
        && num(7).is_some_and(|m| (1..=12).contains(&m))
        && at(9) == b'-'
        && num(10).is_some_and(|d| (1..=31).contains(&d))
        && at(12) == b'T'
        && num(13).is_some_and(|h| h <= 23)
        && at(15) == b':'
        && num(16).is_some_and(|m| m <= 59)
        && at(18) == b':'
        && num(19).is_some_and(|s| s <= 60);
    if !shape {
        return None;
    }
    let mut i = 21;
    if at(i) == b'.' {
        let n = digits(b, i + 1);
        if n == 0 {
            return None;
        }
        i += 1 + n;
    }
    (at(i) == b'Z' && at(i + 1) == b'\'').then_some(i + 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(s: &str) -> Vec<Tok<'_>> {
        tokens(s).into_iter().map(|(_, t)| t).collect()
    }

    #[test]
    fn longest_match_and_ties() {
        assert_eq!(
            toks("ANDx AND and"),
            vec![Tok::Ident("ANDx"), Tok::Keyword(Keyword::And), Tok::Ident("and"), Tok::Eof]
        );
        assert_eq!(
            toks("domain-name true TRUE"),
            vec![Tok::HyphenIdent("domain-name"), Tok::Bool(true), Tok::Ident("TRUE"), Tok::Eof]
        );
        assert_eq!(
            toks("007 -1 +.5 1.5.3 - ."),
            vec![
                Tok::IntPos("0"),
                Tok::IntPos("0"),
                Tok::IntPos("7"),
                Tok::IntNeg("-1"),
                Tok::FloatPos("+.5"),
                Tok::FloatPos("1.5"),
                Tok::FloatPos(".3"),
                Tok::Other("-"),
                Tok::Dot,
                Tok::Eof
            ]
        );
    }

    #[test]
    fn literals() {
        assert_eq!(
            toks("h'0aFF' h'0' b'AAA=' b'' t'2016-02-29T00:00:60.5Z' t'2016-13-01T00:00:00Z'")[..4],
            [Tok::Hex("h'0aFF'"), Tok::Ident("h"), Tok::Str("'0'"), Tok::Binary("b'AAA='")]
        );
        assert_eq!(toks("b''")[..2], [Tok::Ident("b"), Tok::Str("''")]);
        assert_eq!(toks("'a\\'b\\\\c' 'bad\\n'")[..2], [Tok::Str("'a\\'b\\\\c'"), Tok::Other("'")]);
        assert!(
            toks("b'AAA=' t'2016-02-29T00:00:60.5Z'")
                .starts_with(&[Tok::Binary("b'AAA='"), Tok::Timestamp("t'2016-02-29T00:00:60.5Z'")])
        );
        assert!(!toks("t'2016-13-01T00:00:00Z'").contains(&Tok::Timestamp("t'2016-13-01T00:00:00Z'")));
    }

    #[test]
    fn comments_and_unicode_space_are_skipped() {
        assert_eq!(toks("/* x */[\u{3000}// y\n]"), vec![Tok::LBrack, Tok::RBrack, Tok::Eof]);
        assert_eq!(toks("/* open"), vec![Tok::Other("/"), Tok::Star, Tok::Ident("open"), Tok::Eof]);
    }
}
