//! Cypher tokens with byte spans.
//!
//! Keywords are not tokens of their own: they are identifiers the parser compares
//! case-insensitively, because Cypher lets most keywords be used as names too.

use super::SyntaxError;

#[derive(Debug, Clone, PartialEq)]
pub enum Tok {
    /// A name; `quoted` for backquoted names, which are never keywords.
    Ident {
        name: String,
        quoted: bool,
    },
    Int(i64),
    Float(f64),
    Str(String),
    Param(String),
    LParen,
    RParen,
    LBracket,
    RBracket,
    LBrace,
    RBrace,
    Comma,
    Dot,
    DotDot,
    Colon,
    Semicolon,
    Plus,
    Minus,
    Star,
    Slash,
    Percent,
    Caret,
    Eq,
    Neq,
    Lt,
    Gt,
    Le,
    Ge,
    RegexMatch,
    Pipe,
    Eof,
}

/// A token and where it is in the query text (byte offsets).
#[derive(Debug, Clone, PartialEq)]
pub struct Token {
    pub tok: Tok,
    pub start: usize,
    pub end: usize,
}

/// "line L, column C" (1-based) of a byte offset, for error messages.
pub fn position(text: &str, offset: usize) -> String {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    format!("line {line}, column {column}")
}

/// Splits `text` into tokens, ending with `Eof`.
pub fn tokenize(text: &str) -> Result<Vec<Token>, SyntaxError> {
    let bytes = text.as_bytes();
    let mut tokens = Vec::new();
    let mut i = 0;
    let err = |at: usize, what: &str| {
        SyntaxError::new(format!("Invalid input at {}: {what}", position(text, at)))
    };
    while i < bytes.len() {
        let c = bytes[i];
        let start = i;
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        if c == b'/' && bytes.get(i + 1) == Some(&b'/') {
            while i < bytes.len() && bytes[i] != b'\n' {
                i += 1;
            }
            continue;
        }
        if c == b'/' && bytes.get(i + 1) == Some(&b'*') {
            match text[i + 2..].find("*/") {
                Some(end) => i = i + 2 + end + 2,
                None => return Err(err(start, "unterminated comment")),
            }
            continue;
        }
        let two = |a: u8, b: u8| c == a && bytes.get(i + 1) == Some(&b);
        let (tok, len) = if two(b'.', b'.') {
            (Tok::DotDot, 2)
        } else if two(b'<', b'>') || two(b'!', b'=') {
            (Tok::Neq, 2)
        } else if two(b'<', b'=') {
            (Tok::Le, 2)
        } else if two(b'>', b'=') {
            (Tok::Ge, 2)
        } else if two(b'=', b'~') {
            (Tok::RegexMatch, 2)
        } else {
            match c {
                b'(' => (Tok::LParen, 1),
                b')' => (Tok::RParen, 1),
                b'[' => (Tok::LBracket, 1),
                b']' => (Tok::RBracket, 1),
                b'{' => (Tok::LBrace, 1),
                b'}' => (Tok::RBrace, 1),
                b',' => (Tok::Comma, 1),
                b':' => (Tok::Colon, 1),
                b';' => (Tok::Semicolon, 1),
                b'+' => (Tok::Plus, 1),
                b'-' => (Tok::Minus, 1),
                b'*' => (Tok::Star, 1),
                b'/' => (Tok::Slash, 1),
                b'%' => (Tok::Percent, 1),
                b'^' => (Tok::Caret, 1),
                b'=' => (Tok::Eq, 1),
                b'<' => (Tok::Lt, 1),
                b'>' => (Tok::Gt, 1),
                b'|' => (Tok::Pipe, 1),
                b'.' if !bytes.get(i + 1).is_some_and(u8::is_ascii_digit) => (Tok::Dot, 1),
                _ => (Tok::Eof, 0),
            }
        };
        if len > 0 {
            i += len;
            tokens.push(Token { tok, start, end: i });
            continue;
        }
        if c.is_ascii_digit() || c == b'.' {
            let (tok, next) = number(text, i).map_err(|m| err(start, &m))?;
            i = next;
            tokens.push(Token { tok, start, end: i });
            continue;
        }
        if c == b'\'' || c == b'"' {
            let (s, next) = string(text, i).map_err(|m| err(start, &m))?;
            i = next;
            tokens.push(Token {
                tok: Tok::Str(s),
                start,
                end: i,
            });
            continue;
        }
        if c == b'`' {
            let (name, next) =
                backquoted(text, i).ok_or_else(|| err(start, "unterminated backquoted name"))?;
            i = next;
            tokens.push(Token {
                tok: Tok::Ident { name, quoted: true },
                start,
                end: i,
            });
            continue;
        }
        if c == b'$' {
            let name_start = i + 1;
            let mut j = name_start;
            while j < bytes.len() && (bytes[j].is_ascii_alphanumeric() || bytes[j] == b'_') {
                j += 1;
            }
            if j == name_start {
                return Err(err(start, "expected a parameter name after '$'"));
            }
            tokens.push(Token {
                tok: Tok::Param(text[name_start..j].to_owned()),
                start,
                end: j,
            });
            i = j;
            continue;
        }
        if c.is_ascii_alphabetic() || c == b'_' || !c.is_ascii() {
            let mut j = i;
            while j < bytes.len() {
                let ch = text[j..].chars().next().unwrap_or(' ');
                if ch.is_alphanumeric() || ch == '_' {
                    j += ch.len_utf8();
                } else {
                    break;
                }
            }
            if j == i {
                let ch = text[i..].chars().next().unwrap_or('?');
                return Err(err(start, &format!("unexpected character '{ch}'")));
            }
            tokens.push(Token {
                tok: Tok::Ident {
                    name: text[i..j].to_owned(),
                    quoted: false,
                },
                start,
                end: j,
            });
            i = j;
            continue;
        }
        let ch = text[i..].chars().next().unwrap_or('?');
        return Err(err(start, &format!("unexpected character '{ch}'")));
    }
    tokens.push(Token {
        tok: Tok::Eof,
        start: text.len(),
        end: text.len(),
    });
    Ok(tokens)
}

/// A backquoted name starting at `start`, and the offset after it. A doubled backquote inside
/// stands for one (openCypher's escape, which `DUMP DATABASE` output relies on for names that
/// contain one). `None` when the closing backquote is missing.
fn backquoted(text: &str, start: usize) -> Option<(String, usize)> {
    let mut name = String::new();
    let mut from = start + 1;
    loop {
        let len = text[from..].find('`')?;
        name.push_str(&text[from..from + len]);
        let after = from + len + 1;
        if text.as_bytes().get(after) == Some(&b'`') {
            name.push('`');
            from = after + 1;
        } else {
            return Some((name, after));
        }
    }
}

fn number(text: &str, start: usize) -> Result<(Tok, usize), String> {
    let bytes = text.as_bytes();
    let rest = &text[start..];
    if rest.starts_with("0x")
        || rest.starts_with("0X")
        || rest.starts_with("0o")
        || rest.starts_with("0O")
    {
        let radix = if matches!(bytes[start + 1], b'x' | b'X') {
            16
        } else {
            8
        };
        let mut j = start + 2;
        while j < bytes.len() && (bytes[j] as char).is_digit(radix) {
            j += 1;
        }
        let digits = &text[start + 2..j];
        let v = u64::from_str_radix(digits, radix)
            .ok()
            .and_then(int_token)
            .ok_or_else(|| format!("invalid integer literal '{}'", &text[start..j]))?;
        return Ok((v, j));
    }
    let mut j = start;
    while j < bytes.len() && bytes[j].is_ascii_digit() {
        j += 1;
    }
    let mut is_float = false;
    if j < bytes.len() && bytes[j] == b'.' && bytes.get(j + 1).is_some_and(u8::is_ascii_digit) {
        is_float = true;
        j += 1;
        while j < bytes.len() && bytes[j].is_ascii_digit() {
            j += 1;
        }
    }
    if j < bytes.len() && matches!(bytes[j], b'e' | b'E') {
        let mut k = j + 1;
        if k < bytes.len() && matches!(bytes[k], b'+' | b'-') {
            k += 1;
        }
        if k < bytes.len() && bytes[k].is_ascii_digit() {
            is_float = true;
            j = k;
            while j < bytes.len() && bytes[j].is_ascii_digit() {
                j += 1;
            }
        }
    }
    let literal = &text[start..j];
    if is_float {
        literal
            .parse::<f64>()
            .map_err(|_| format!("invalid number '{literal}'"))
            .and_then(|f| {
                if f.is_finite() {
                    Ok((Tok::Float(f), j))
                } else {
                    Err(format!(
                        "floating point literal '{literal}' is too large for a 64-bit float"
                    ))
                }
            })
    } else {
        literal
            .parse::<u64>()
            .ok()
            .and_then(int_token)
            .map(|v| (v, j))
            .ok_or_else(|| format!("integer literal '{literal}' is too large"))
    }
}

/// An integer literal's token. 2^63 only fits negated, so it becomes `Int(i64::MIN)`, which the
/// parser accepts only after a unary minus (no positive literal can lex to i64::MIN).
fn int_token(v: u64) -> Option<Tok> {
    match i64::try_from(v) {
        Ok(v) => Some(Tok::Int(v)),
        Err(_) if v == 1 << 63 => Some(Tok::Int(i64::MIN)),
        Err(_) => None,
    }
}

fn string(text: &str, start: usize) -> Result<(String, usize), String> {
    let quote = text.as_bytes()[start] as char;
    let mut out = String::new();
    let mut chars = text[start + 1..].char_indices();
    while let Some((offset, ch)) = chars.next() {
        if ch == quote {
            return Ok((out, start + 1 + offset + 1));
        }
        if ch != '\\' {
            out.push(ch);
            continue;
        }
        let Some((_, esc)) = chars.next() else { break };
        match esc {
            '\\' => out.push('\\'),
            '\'' => out.push('\''),
            '"' => out.push('"'),
            'n' => out.push('\n'),
            't' => out.push('\t'),
            'r' => out.push('\r'),
            'b' => out.push('\u{8}'),
            'f' => out.push('\u{c}'),
            'u' | 'U' => {
                let len = if esc == 'u' { 4 } else { 8 };
                let mut hex = String::new();
                for _ in 0..len {
                    match chars.next() {
                        Some((_, h)) => hex.push(h),
                        None => return Err("unterminated unicode escape".to_owned()),
                    }
                }
                let ch = u32::from_str_radix(&hex, 16)
                    .ok()
                    .and_then(char::from_u32)
                    .ok_or_else(|| format!("invalid unicode escape \\{esc}{hex}"))?;
                out.push(ch);
            }
            other => return Err(format!("invalid escape sequence '\\{other}'")),
        }
    }
    Err("unterminated string literal".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(s: &str) -> Vec<Tok> {
        tokenize(s).unwrap().into_iter().map(|t| t.tok).collect()
    }

    #[test]
    fn numbers_strings_params() {
        let e = tokenize("RETURN 1.34E999").unwrap_err();
        assert!(
            e.message.contains("too large for a 64-bit float"),
            "{}",
            e.message
        );
        assert_eq!(
            toks("1 0x1F 0o17 1.5 .5 1e3 'a\\n' \"b\" $p $0"),
            vec![
                Tok::Int(1),
                Tok::Int(31),
                Tok::Int(15),
                Tok::Float(1.5),
                Tok::Float(0.5),
                Tok::Float(1000.0),
                Tok::Str("a\n".into()),
                Tok::Str("b".into()),
                Tok::Param("p".into()),
                Tok::Param("0".into()),
                Tok::Eof
            ]
        );
    }

    #[test]
    fn operators_and_comments() {
        assert_eq!(
            toks("a<>b // x\n<= /* y */ >= =~ .. !="),
            vec![
                Tok::Ident {
                    name: "a".into(),
                    quoted: false
                },
                Tok::Neq,
                Tok::Ident {
                    name: "b".into(),
                    quoted: false
                },
                Tok::Le,
                Tok::Ge,
                Tok::RegexMatch,
                Tok::DotDot,
                Tok::Neq,
                Tok::Eof
            ]
        );
    }

    #[test]
    fn backquoted_names_unescape_doubled_backquotes() {
        let quoted = |name: &str| Tok::Ident {
            name: name.into(),
            quoted: true,
        };
        assert_eq!(
            toks("`a b` `x``y` ````"),
            vec![quoted("a b"), quoted("x`y"), quoted("`"), Tok::Eof]
        );
        assert!(tokenize("RETURN `open``").is_err());
    }

    #[test]
    fn errors_have_positions() {
        let e = tokenize("RETURN\n 'abc").unwrap_err();
        assert!(e.message.contains("line 2, column 2"), "{}", e.message);
        assert!(tokenize("RETURN 99999999999999999999").is_err());
        assert!(tokenize("RETURN #").is_err());
        assert!(tokenize("RETURN '\\q'").is_err());
    }
}
