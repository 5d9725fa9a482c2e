//! How ckpool's JSON library (jansson) prints values, reproduced byte for byte.
//!
//! ckpool writes every file and message with `json_dumps`, so matching its output exactly
//! means matching jansson's separators, indentation and, above all, its real-number
//! formatting: C's `printf("%.<precision>g")` (17 digits by default), then `.0` appended
//! when the result looks like an integer, then the exponent stripped of `+` and leading
//! zeros (`1.54e-05` becomes `1.54e-5`). Objects keep insertion order (this crate enables
//! serde_json's `preserve_order`), as jansson ≥ 2.8 does.

use serde_json::Value;

/// jansson's default real precision (`%.17g`), used when no `JSON_REAL_PRECISION` is given.
pub const DEFAULT_REAL_PRECISION: usize = 17;

/// The subset of jansson's `json_dumps` flags ckpool uses, so each file can name its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DumpFormat {
    /// `JSON_INDENT(n)`: newline and `n` spaces per depth level; `0` keeps one line.
    pub indent: usize,
    /// `JSON_COMPACT`: `,` and `:` separators instead of `, ` and `: `.
    pub compact: bool,
    /// `JSON_REAL_PRECISION(n)`: significant digits for reals (`%.ng`).
    pub real_precision: usize,
}

impl DumpFormat {
    /// `json_dumps(val, 0)`: one line, `, ` and `: ` separators, `%.17g` reals.
    pub const PLAIN: DumpFormat = DumpFormat {
        indent: 0,
        compact: false,
        real_precision: DEFAULT_REAL_PRECISION,
    };
    /// `json_dumps(val, JSON_COMPACT)`: one line, no spaces, `%.17g` reals.
    pub const COMPACT: DumpFormat = DumpFormat {
        indent: 0,
        compact: true,
        real_precision: DEFAULT_REAL_PRECISION,
    };
}

/// Prints `value` as jansson's `json_dumps` would with `format` (no trailing newline).
pub fn dumps(value: &Value, format: &DumpFormat) -> String {
    let mut out = String::new();
    dump(value, format, 0, &mut out);
    out
}

fn newline_indent(format: &DumpFormat, depth: usize, out: &mut String) {
    if format.indent > 0 {
        out.push('\n');
        out.push_str(&" ".repeat(format.indent * depth));
    }
}

/// After a `,`: a newline and indent, or one space when not compact and not indented.
fn item_separator(format: &DumpFormat, depth: usize, out: &mut String) {
    out.push(',');
    if format.indent > 0 {
        newline_indent(format, depth, out);
    } else if !format.compact {
        out.push(' ');
    }
}

fn dump(value: &Value, format: &DumpFormat, depth: usize, out: &mut String) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                out.push_str(&i.to_string());
            } else if let Some(u) = n.as_u64() {
                out.push_str(&u.to_string());
            } else {
                let f = n.as_f64().unwrap_or(0.0);
                out.push_str(&format_real(f, format.real_precision));
            }
        }
        Value::String(s) => escape_into(s, out),
        Value::Array(items) => {
            out.push('[');
            if items.is_empty() {
                out.push(']');
                return;
            }
            newline_indent(format, depth + 1, out);
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    item_separator(format, depth + 1, out);
                }
                dump(item, format, depth + 1, out);
            }
            newline_indent(format, depth, out);
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            if map.is_empty() {
                out.push('}');
                return;
            }
            newline_indent(format, depth + 1, out);
            for (i, (key, item)) in map.iter().enumerate() {
                if i > 0 {
                    item_separator(format, depth + 1, out);
                }
                escape_into(key, out);
                out.push_str(if format.compact { ":" } else { ": " });
                dump(item, format, depth + 1, out);
            }
            newline_indent(format, depth, out);
            out.push('}');
        }
    }
}

/// jansson's string escaping: `"` `\` and control characters; UTF-8 passes through.
fn escape_into(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// C's `printf("%.<precision>g", v)`: ckpool's `suffix_string` and jansson both use it.
pub fn format_g(v: f64, precision: usize) -> String {
    let p = precision.max(1);
    if v.is_nan() {
        return "nan".into();
    }
    if v.is_infinite() {
        return if v < 0.0 { "-inf".into() } else { "inf".into() };
    }
    if v == 0.0 {
        return if v.is_sign_negative() { "-0" } else { "0" }.into();
    }
    let sci = format!("{:.*e}", p - 1, v);
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let x: i32 = exp.parse().unwrap_or(0);
    if x < -4 || x >= p as i32 {
        let sign = if x < 0 { '-' } else { '+' };
        format!("{}e{}{:02}", trim_fraction_zeros(mantissa), sign, x.abs())
    } else {
        let decimals = (p as i32 - 1 - x) as usize;
        trim_fraction_zeros(&format!("{:.*}", decimals, v)).to_string()
    }
}

fn trim_fraction_zeros(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

/// jansson's real printing (`jsonp_dtostr`): `%.<precision>g`, `.0` appended when the
/// text would read back as an integer, exponent without `+` or leading zeros.
pub fn format_real(v: f64, precision: usize) -> String {
    let precision = if precision == 0 {
        DEFAULT_REAL_PRECISION
    } else {
        precision
    };
    let mut s = format_g(v, precision);
    if !s.contains('.') && !s.contains('e') {
        s.push_str(".0");
    }
    if let Some(e) = s.find('e') {
        let (head, exp) = s.split_at(e + 1);
        let (neg, digits) = match exp.strip_prefix('-') {
            Some(d) => (true, d),
            None => (false, exp.trim_start_matches('+')),
        };
        let digits = digits.trim_start_matches('0');
        s = format!("{head}{}{digits}", if neg { "-" } else { "" });
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn percent_g_matches_c() {
        assert_eq!(format_g(100.0, 3), "100");
        assert_eq!(format_g(7.1, 3), "7.1");
        assert_eq!(format_g(1.54e-5, 3), "1.54e-05");
        assert_eq!(format_g(999.6, 3), "1e+03");
        assert_eq!(format_g(0.000901, 3), "0.000901");
        assert_eq!(format_g(31.46584759492855, 17), "31.465847594928551");
        assert_eq!(format_g(0.001126515290698186, 17), "0.001126515290698186");
    }

    #[test]
    fn reals_like_jansson() {
        assert_eq!(format_real(100.0, 3), "100.0");
        assert_eq!(format_real(1.54e-5, 3), "1.54e-5");
        assert_eq!(format_real(0.0, 0), "0.0");
        assert_eq!(format_real(1.0, 17), "1.0");
        assert_eq!(format_real(1e20, 17), "1e20");
    }

    #[test]
    fn separators_and_indent() {
        let v = json!({"a": [1, 2.5], "b": {}, "c": []});
        assert_eq!(
            dumps(&v, &DumpFormat::PLAIN),
            r#"{"a": [1, 2.5], "b": {}, "c": []}"#
        );
        assert_eq!(
            dumps(&v, &DumpFormat::COMPACT),
            r#"{"a":[1,2.5],"b":{},"c":[]}"#
        );
        let indented = DumpFormat {
            indent: 1,
            ..DumpFormat::PLAIN
        };
        assert_eq!(
            dumps(&v, &indented),
            "{\n \"a\": [\n  1,\n  2.5\n ],\n \"b\": {},\n \"c\": []\n}"
        );
        assert_eq!(
            dumps(&json!("\u{1}\"/"), &DumpFormat::PLAIN),
            r#""\u0001\"/""#
        );
    }
}
