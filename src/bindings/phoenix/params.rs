//! Script values bound to a prepared statement's parameters, by the parameter's JDBC type:
//! integers range-checked, DECIMAL as exact text, dates and times from numbers or ISO text.

use super::wire::{jdbc, rep, Param, ParamType, Value};
use crate::metrics::{ErrorKind, OpError};

/// The statement's parameters from the script's values, in order; fewer values than parameters
/// leave the rest NULL.
pub(super) fn bind(types: &[ParamType], values: &[Value]) -> Result<Vec<Param>, OpError> {
    if values.len() > types.len() {
        return Err(OpError::new(
            ErrorKind::Client,
            format!(
                "phoenix: {} parameters given, the statement takes {}",
                values.len(),
                types.len()
            ),
        ));
    }
    types
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let v = values.get(i).unwrap_or(&Value::Null);
            to_param(v, t).map_err(|e| {
                OpError::new(
                    ErrorKind::Client,
                    format!("phoenix: parameter {} ({}): {e}", i + 1, t.type_name),
                )
            })
        })
        .collect()
}

fn describe(v: &Value) -> String {
    match v {
        Value::Null => "nil".into(),
        Value::Bool(b) => b.to_string(),
        Value::Int(i) => i.to_string(),
        Value::Float(f) => f.to_string(),
        Value::Str(s) | Value::Decimal(s) => {
            format!("'{}'", s.chars().take(40).collect::<String>())
        }
        Value::Bytes(b) => format!("{} bytes", b.len()),
    }
}

fn int_of(v: &Value) -> Option<i64> {
    match v {
        Value::Int(i) => Some(*i),
        Value::Float(f) if f.fract() == 0.0 && f.abs() < 9.2e18 => Some(*f as i64),
        Value::Str(s) | Value::Decimal(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn is_decimal(s: &str) -> bool {
    let s = s.strip_prefix(['-', '+']).unwrap_or(s);
    let (mantissa, exp) = match s.find(['e', 'E']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let mut parts = mantissa.splitn(2, '.');
    let int = parts.next().unwrap_or("");
    let frac = parts.next();
    let digits = |t: &str| t.bytes().all(|b| b.is_ascii_digit());
    let mantissa_ok = digits(int)
        && frac.is_none_or(digits)
        && !(int.is_empty() && frac.is_none_or(str::is_empty));
    let exp_ok = exp.is_none_or(|e| {
        let e = e.strip_prefix(['-', '+']).unwrap_or(e);
        !e.is_empty() && digits(e)
    });
    mantissa_ok && exp_ok
}

/// Milliseconds since the epoch of `YYYY-MM-DD[ T]HH:MM:SS[.fff][Z]` (UTC).
fn parse_timestamp_ms(s: &str) -> Option<i64> {
    let t = humantime::parse_rfc3339_weak(s.trim().trim_end_matches('Z')).ok()?;
    let d = t.duration_since(std::time::UNIX_EPOCH).ok()?;
    Some(d.as_millis() as i64)
}

fn to_param(v: &Value, t: &ParamType) -> Result<Param, String> {
    if *v == Value::Null {
        return Ok(Param::Null);
    }
    let bad = || format!("cannot bind {}", describe(v));
    let int = |r: i32, lo: i64, hi: i64| -> Result<Param, String> {
        let n = int_of(v).ok_or_else(bad)?;
        if n < lo || n > hi {
            return Err(format!("{n} is out of range [{lo}, {hi}]"));
        }
        Ok(Param::Int(r, n))
    };
    match t.type_id {
        jdbc::BIGINT => int(rep::LONG, i64::MIN, i64::MAX),
        jdbc::INTEGER => int(rep::INTEGER, i32::MIN as i64, i32::MAX as i64),
        jdbc::SMALLINT => int(rep::SHORT, i16::MIN as i64, i16::MAX as i64),
        jdbc::TINYINT => int(rep::BYTE, i8::MIN as i64, i8::MAX as i64),
        jdbc::DOUBLE | jdbc::FLOAT | jdbc::REAL => match v {
            Value::Int(i) => Ok(Param::Double(*i as f64)),
            Value::Float(f) => Ok(Param::Double(*f)),
            Value::Str(s) | Value::Decimal(s) => {
                s.trim().parse().map(Param::Double).map_err(|_| bad())
            }
            _ => Err(bad()),
        },
        jdbc::DECIMAL | jdbc::NUMERIC => match v {
            Value::Int(i) => Ok(Param::Decimal(i.to_string())),
            Value::Float(f) if f.is_finite() => Ok(Param::Decimal(format!("{f}"))),
            Value::Str(s) | Value::Decimal(s) if is_decimal(s.trim()) => {
                Ok(Param::Decimal(s.trim().to_string()))
            }
            _ => Err(bad()),
        },
        jdbc::CHAR | jdbc::VARCHAR | jdbc::LONGVARCHAR => match v {
            Value::Str(s) | Value::Decimal(s) => Ok(Param::Str(s.clone())),
            Value::Int(i) => Ok(Param::Str(i.to_string())),
            Value::Float(f) => Ok(Param::Str(f.to_string())),
            Value::Bool(b) => Ok(Param::Str(b.to_string())),
            Value::Bytes(_) => Err("not UTF-8 text".into()),
            Value::Null => Ok(Param::Null),
        },
        jdbc::BOOLEAN | jdbc::BIT => match v {
            Value::Bool(b) => Ok(Param::Bool(*b)),
            Value::Int(0) => Ok(Param::Bool(false)),
            Value::Int(1) => Ok(Param::Bool(true)),
            _ => Err(bad()),
        },
        jdbc::DATE => match v {
            Value::Int(d) => Ok(Param::Date(*d)),
            Value::Str(s) => {
                let ms = parse_timestamp_ms(&format!("{} 00:00:00", s.trim()))
                    .or_else(|| parse_timestamp_ms(s))
                    .ok_or_else(bad)?;
                Ok(Param::Date(ms.div_euclid(86_400_000)))
            }
            _ => Err(bad()),
        },
        jdbc::TIME => match v {
            Value::Int(ms) => Ok(Param::Time(*ms)),
            Value::Str(s) => parse_timestamp_ms(&format!("1970-01-01 {}", s.trim()))
                .map(Param::Time)
                .ok_or_else(bad),
            _ => Err(bad()),
        },
        jdbc::TIMESTAMP => match v {
            Value::Int(ms) => Ok(Param::Timestamp(*ms)),
            Value::Str(s) => parse_timestamp_ms(s).map(Param::Timestamp).ok_or_else(bad),
            _ => Err(bad()),
        },
        jdbc::BINARY | jdbc::VARBINARY | jdbc::LONGVARBINARY => match v {
            Value::Bytes(b) => Ok(Param::Bytes(b.clone())),
            Value::Str(s) => Ok(Param::Bytes(s.as_bytes().to_vec())),
            _ => Err(bad()),
        },
        // A type the server did not name: go by the value.
        _ => Ok(match v {
            Value::Null => Param::Null,
            Value::Bool(b) => Param::Bool(*b),
            Value::Int(i) => Param::Int(rep::LONG, *i),
            Value::Float(f) => Param::Double(*f),
            Value::Str(s) => Param::Str(s.clone()),
            Value::Decimal(s) => Param::Decimal(s.clone()),
            Value::Bytes(b) => Param::Bytes(b.clone()),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pt(type_id: i32) -> ParamType {
        ParamType {
            type_id,
            type_name: String::new(),
        }
    }

    #[test]
    fn parameters_follow_the_column_type() {
        assert_eq!(
            to_param(&Value::Int(9007199254740993), &pt(jdbc::BIGINT)),
            Ok(Param::Int(rep::LONG, 9007199254740993))
        );
        assert!(to_param(&Value::Int(300), &pt(jdbc::TINYINT)).is_err());
        assert_eq!(
            to_param(&Value::Float(2.0), &pt(jdbc::SMALLINT)),
            Ok(Param::Int(rep::SHORT, 2))
        );
        assert_eq!(
            to_param(&Value::Str("12.50".into()), &pt(jdbc::DECIMAL)),
            Ok(Param::Decimal("12.50".into()))
        );
        assert!(to_param(&Value::Str("12,5".into()), &pt(jdbc::DECIMAL)).is_err());
        assert_eq!(
            to_param(&Value::Str("2022-01-08".into()), &pt(jdbc::DATE)),
            Ok(Param::Date(19000))
        );
        assert_eq!(
            to_param(&Value::Str("12:34:56.789".into()), &pt(jdbc::TIME)),
            Ok(Param::Time(45_296_789))
        );
        assert_eq!(
            to_param(
                &Value::Str("2023-11-14T22:13:20.123Z".into()),
                &pt(jdbc::TIMESTAMP)
            ),
            Ok(Param::Timestamp(1_700_000_000_123))
        );
        assert_eq!(
            to_param(&Value::Str("ab".into()), &pt(jdbc::VARBINARY)),
            Ok(Param::Bytes(b"ab".to_vec()))
        );
        assert!(to_param(&Value::Bool(true), &pt(jdbc::INTEGER)).is_err());
    }

    #[test]
    fn decimal_syntax() {
        for ok in ["1", "-1.5", "+0.25", ".5", "5.", "1e10", "1.2E-3"] {
            assert!(is_decimal(ok), "{ok}");
        }
        for bad in ["", ".", "-", "1e", "abc", "1.2.3", "0x10"] {
            assert!(!is_decimal(bad), "{bad}");
        }
    }
}
