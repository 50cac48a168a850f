//! Result rows from a TRowSet. HiveServer2 (protocol V6+) sends one TColumn per result column: a
//! typed value list plus a null bitmap (bit i, least significant first in byte i / 8, set = NULL).
//! Older servers send rows of TColumnValue; both become rows of [`Cell`]s.

use super::tcli::ColumnMeta;
use super::thrift::Value;

/// One value of a result row. Strings stay bytes (Lua strings are bytes; BINARY is not UTF-8).
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(Vec<u8>),
}

const FLOAT_TYPE: i32 = 5;

fn scalar(v: Value, type_id: i32) -> Cell {
    match v {
        Value::Bool(b) => Cell::Bool(b),
        Value::Byte(b) => Cell::Int(b as i64),
        Value::I16(i) => Cell::Int(i as i64),
        Value::I32(i) => Cell::Int(i as i64),
        Value::I64(i) => Cell::Int(i),
        // FLOAT travels widened to a double (1.1f arrives as 1.100000023841858): give the
        // shortest decimal that reads back as the same float.
        Value::Double(d) if type_id == FLOAT_TYPE => Cell::Float(
            (d as f32)
                .to_string()
                .parse()
                .expect("a float prints as a number"),
        ),
        Value::Double(d) => Cell::Float(d),
        Value::Bin(b) => Cell::Str(b),
        _ => Cell::Null,
    }
}

fn is_null(nulls: &[u8], i: usize) -> bool {
    nulls.get(i / 8).is_some_and(|b| b & (1 << (i % 8)) != 0)
}

/// One TColumn (a union of typed columns) as cells.
fn column(mut c: Value, type_id: i32) -> Result<Vec<Cell>, String> {
    let Value::Struct(ref mut f) = c else {
        return Err("a column is not a struct".into());
    };
    let Some((_, mut typed)) = f.pop() else {
        return Err("an empty column union".into());
    };
    let nulls = typed.take(2).and_then(|n| match n {
        Value::Bin(b) => Some(b),
        _ => None,
    });
    let Some(Value::List(values)) = typed.take(1) else {
        return Err("a column without values".into());
    };
    let nulls = nulls.unwrap_or_default();
    Ok(values
        .into_iter()
        .enumerate()
        .map(|(i, v)| {
            if is_null(&nulls, i) {
                Cell::Null
            } else {
                scalar(v, type_id)
            }
        })
        .collect())
}

/// TColumnValue: a union of T*Value structs whose field 1 is unset for NULL.
fn row_value(mut v: Value, type_id: i32) -> Cell {
    match &mut v {
        Value::Struct(f) => match f.pop() {
            Some((_, mut inner)) => inner.take(1).map_or(Cell::Null, |x| scalar(x, type_id)),
            None => Cell::Null,
        },
        _ => Cell::Null,
    }
}

/// The rows of a TRowSet, in order.
pub fn rows(mut set: Value, schema: &[ColumnMeta]) -> Result<Vec<Vec<Cell>>, String> {
    let type_of = |i: usize| schema.get(i).map_or(7, |c| c.type_id);
    if let Some(Value::List(cols)) = set.take(3) {
        let mut columns = Vec::with_capacity(cols.len());
        for (i, c) in cols.into_iter().enumerate() {
            columns.push(column(c, type_of(i))?);
        }
        let n = columns.first().map_or(0, Vec::len);
        if let Some(bad) = columns.iter().position(|c| c.len() != n) {
            return Err(format!(
                "column {} has {} values, column 1 has {n}",
                bad + 1,
                columns[bad].len()
            ));
        }
        let mut out: Vec<Vec<Cell>> = (0..n).map(|_| Vec::with_capacity(columns.len())).collect();
        for col in columns {
            for (row, cell) in out.iter_mut().zip(col) {
                row.push(cell);
            }
        }
        return Ok(out);
    }
    let Some(Value::List(rows)) = set.take(2) else {
        return Ok(Vec::new());
    };
    rows.into_iter()
        .map(|mut r| match r.take(1) {
            Some(Value::List(vals)) => Ok(vals
                .into_iter()
                .enumerate()
                .map(|(i, v)| row_value(v, type_of(i)))
                .collect()),
            _ => Err("a row without values".to_string()),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn null_bitmap_is_least_significant_bit_first() {
        let nulls = [0b0000_0010, 0b0000_0001];
        let got: Vec<bool> = (0..10).map(|i| is_null(&nulls, i)).collect();
        assert_eq!(
            got,
            [false, true, false, false, false, false, false, false, true, false]
        );
        // A bitmap shorter than the column: the rest are values.
        assert!(!is_null(&[], 3));
    }

    #[test]
    fn floats_read_back_as_written() {
        assert_eq!(
            scalar(Value::Double(1.1f32 as f64), FLOAT_TYPE),
            Cell::Float(1.1)
        );
        assert_eq!(scalar(Value::Double(0.1), 6), Cell::Float(0.1));
    }
}
