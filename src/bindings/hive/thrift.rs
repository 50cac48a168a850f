//! The Thrift binary protocol (strict), as its public specification describes it: big-endian
//! integers, length-prefixed strings, fields as (type byte, i16 id, value) closed by a STOP byte,
//! messages as (0x8001_0000 | type, name, sequence id, struct). Encoding writes straight into a
//! buffer; decoding reads a whole message into a small value tree that `tcli` picks fields from.

/// Field and element types of the binary protocol.
pub mod ttype {
    pub const STOP: u8 = 0;
    pub const BOOL: u8 = 2;
    pub const BYTE: u8 = 3;
    pub const DOUBLE: u8 = 4;
    pub const I16: u8 = 6;
    pub const I32: u8 = 8;
    pub const I64: u8 = 10;
    pub const STRING: u8 = 11;
    pub const STRUCT: u8 = 12;
    pub const MAP: u8 = 13;
    pub const SET: u8 = 14;
    pub const LIST: u8 = 15;
}

pub const VERSION_1: u32 = 0x8001_0000;
pub const CALL: u8 = 1;
pub const REPLY: u8 = 2;
pub const EXCEPTION: u8 = 3;

/// Nesting deeper than this is not what HiveServer2 sends: a guard against hostile input.
const MAX_DEPTH: usize = 64;

/// Room reserved up front for at most this many elements of a list or map: a size prefix is only a
/// claim, so a longer one grows as its elements are actually read (60 nested lists claiming 65,535
/// elements each once made 316 bytes reserve 120 MiB: `nested_size_claims_reserve_little`).
const MAX_RESERVE: usize = 256;

/// Writes binary-protocol values into a buffer.
#[derive(Default)]
pub struct Writer {
    pub buf: Vec<u8>,
}

impl Writer {
    pub fn new() -> Writer {
        Writer::default()
    }

    /// A call's message header; the arguments struct follows.
    pub fn message_begin(&mut self, name: &str, kind: u8, seq: i32) {
        self.buf
            .extend_from_slice(&(VERSION_1 | kind as u32).to_be_bytes());
        self.string(name);
        self.i32(seq);
    }

    pub fn field(&mut self, ty: u8, id: i16) {
        self.buf.push(ty);
        self.buf.extend_from_slice(&id.to_be_bytes());
    }

    pub fn stop(&mut self) {
        self.buf.push(ttype::STOP);
    }

    pub fn bool(&mut self, v: bool) {
        self.buf.push(v as u8);
    }

    pub fn i16(&mut self, v: i16) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    pub fn i32(&mut self, v: i32) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    pub fn i64(&mut self, v: i64) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    pub fn binary(&mut self, v: &[u8]) {
        self.i32(v.len() as i32);
        self.buf.extend_from_slice(v);
    }

    pub fn string(&mut self, v: &str) {
        self.binary(v.as_bytes());
    }

    /// Writes a decoded value back as it came (handles are echoed to the server unchanged).
    pub fn value(&mut self, v: &Value) {
        match v {
            Value::Bool(b) => self.bool(*b),
            Value::Byte(b) => self.buf.push(*b as u8),
            Value::Double(d) => self.i64(d.to_bits() as i64),
            Value::I16(i) => self.i16(*i),
            Value::I32(i) => self.i32(*i),
            Value::I64(i) => self.i64(*i),
            Value::Bin(b) => self.binary(b),
            Value::Struct(fields) => {
                for (id, f) in fields {
                    self.field(f.ttype(), *id);
                    self.value(f);
                }
                self.stop();
            }
            Value::Map(m) => {
                let (kt, vt) = m
                    .first()
                    .map(|(k, v)| (k.ttype(), v.ttype()))
                    .unwrap_or((ttype::STRING, ttype::STRING));
                self.buf.push(kt);
                self.buf.push(vt);
                self.i32(m.len() as i32);
                for (k, v) in m {
                    self.value(k);
                    self.value(v);
                }
            }
            Value::List(l) => {
                self.buf
                    .push(l.first().map(Value::ttype).unwrap_or(ttype::STRING));
                self.i32(l.len() as i32);
                for e in l {
                    self.value(e);
                }
            }
        }
    }

    /// A `map<string, string>` value.
    pub fn string_map<'a>(&mut self, m: impl ExactSizeIterator<Item = (&'a String, &'a String)>) {
        self.buf.push(ttype::STRING);
        self.buf.push(ttype::STRING);
        self.i32(m.len() as i32);
        for (k, v) in m {
            self.string(k);
            self.string(v);
        }
    }
}

/// A decoded value. Strings stay bytes (Thrift's `string` and `binary` share a type).
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Bool(bool),
    Byte(i8),
    Double(f64),
    I16(i16),
    I32(i32),
    I64(i64),
    Bin(Vec<u8>),
    Struct(Vec<(i16, Value)>),
    Map(Vec<(Value, Value)>),
    List(Vec<Value>),
}

impl Value {
    /// The wire type of this value.
    pub fn ttype(&self) -> u8 {
        match self {
            Value::Bool(_) => ttype::BOOL,
            Value::Byte(_) => ttype::BYTE,
            Value::Double(_) => ttype::DOUBLE,
            Value::I16(_) => ttype::I16,
            Value::I32(_) => ttype::I32,
            Value::I64(_) => ttype::I64,
            Value::Bin(_) => ttype::STRING,
            Value::Struct(_) => ttype::STRUCT,
            Value::Map(_) => ttype::MAP,
            Value::List(_) => ttype::LIST,
        }
    }

    /// Takes field `id` out of a struct.
    pub fn take(&mut self, id: i16) -> Option<Value> {
        match self {
            Value::Struct(fs) => {
                let i = fs.iter().position(|(f, _)| *f == id)?;
                Some(fs.remove(i).1)
            }
            _ => None,
        }
    }

    pub fn field(&self, id: i16) -> Option<&Value> {
        match self {
            Value::Struct(fs) => fs.iter().find(|(i, _)| *i == id).map(|(_, v)| v),
            _ => None,
        }
    }
    pub fn i32(&self) -> Option<i32> {
        match self {
            Value::I32(v) => Some(*v),
            _ => None,
        }
    }
    pub fn i64(&self) -> Option<i64> {
        match self {
            Value::I64(v) => Some(*v),
            _ => None,
        }
    }
    pub fn bool(&self) -> Option<bool> {
        match self {
            Value::Bool(v) => Some(*v),
            _ => None,
        }
    }
    pub fn bytes(&self) -> Option<&[u8]> {
        match self {
            Value::Bin(v) => Some(v),
            _ => None,
        }
    }
    pub fn text(&self) -> Option<String> {
        self.bytes()
            .map(|b| String::from_utf8_lossy(b).into_owned())
    }
    pub fn list(&self) -> Option<&[Value]> {
        match self {
            Value::List(v) => Some(v),
            _ => None,
        }
    }
}

/// Why bytes could not be decoded.
#[derive(Debug, Clone, PartialEq)]
pub enum DecodeError {
    /// The bytes end before the message does: read more.
    Incomplete,
    /// The bytes are not a binary-protocol message.
    Invalid(String),
}

type R<T> = Result<T, DecodeError>;

/// Reads binary-protocol values from a byte slice.
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Reader<'a> {
        Reader { buf, pos: 0 }
    }

    /// Bytes consumed so far.
    pub fn position(&self) -> usize {
        self.pos
    }

    fn take(&mut self, n: usize) -> R<&'a [u8]> {
        if self.buf.len() - self.pos < n {
            return Err(DecodeError::Incomplete);
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    fn arr<const N: usize>(&mut self) -> R<[u8; N]> {
        Ok(self.take(N)?.try_into().expect("length checked"))
    }

    pub fn u8(&mut self) -> R<u8> {
        Ok(self.take(1)?[0])
    }
    pub fn i16(&mut self) -> R<i16> {
        Ok(i16::from_be_bytes(self.arr()?))
    }
    pub fn i32(&mut self) -> R<i32> {
        Ok(i32::from_be_bytes(self.arr()?))
    }
    pub fn i64(&mut self) -> R<i64> {
        Ok(i64::from_be_bytes(self.arr()?))
    }

    /// How many of `n` claimed elements of at least `min_elem` bytes to reserve room for: no more
    /// than the bytes left could hold, and at most [`MAX_RESERVE`].
    fn reserve(&self, n: usize, min_elem: usize) -> usize {
        n.min((self.buf.len() - self.pos) / min_elem.max(1))
            .min(MAX_RESERVE)
    }

    fn size(&mut self, what: &str, min_elem: usize) -> R<usize> {
        let n = self.i32()?;
        if n < 0 {
            return Err(DecodeError::Invalid(format!("negative {what} size {n}")));
        }
        let n = n as usize;
        // Every element takes at least `min_elem` bytes: a size beyond what is left is either a
        // message still arriving or garbage; refuse sizes no frame could hold.
        if n.saturating_mul(min_elem.max(1)) > 1 << 30 {
            return Err(DecodeError::Invalid(format!(
                "{what} size {n} is too large"
            )));
        }
        Ok(n)
    }

    pub fn binary(&mut self) -> R<Vec<u8>> {
        let n = self.size("string", 1)?;
        Ok(self.take(n)?.to_vec())
    }

    /// The header of a message: its type, name and sequence id.
    pub fn message_begin(&mut self) -> R<(u8, String, i32)> {
        let v = self.i32()? as u32;
        if v & 0xffff_0000 != VERSION_1 {
            return Err(DecodeError::Invalid(format!(
                "not a Thrift binary message (first bytes {v:#010x})"
            )));
        }
        let name = String::from_utf8_lossy(&self.binary()?).into_owned();
        let seq = self.i32()?;
        Ok(((v & 0xff) as u8, name, seq))
    }

    pub fn value(&mut self, ty: u8) -> R<Value> {
        self.value_at(ty, 0)
    }

    fn value_at(&mut self, ty: u8, depth: usize) -> R<Value> {
        if depth > MAX_DEPTH {
            return Err(DecodeError::Invalid("nesting too deep".into()));
        }
        Ok(match ty {
            ttype::BOOL => Value::Bool(self.u8()? != 0),
            ttype::BYTE => Value::Byte(self.u8()? as i8),
            ttype::DOUBLE => Value::Double(f64::from_bits(self.i64()? as u64)),
            ttype::I16 => Value::I16(self.i16()?),
            ttype::I32 => Value::I32(self.i32()?),
            ttype::I64 => Value::I64(self.i64()?),
            ttype::STRING => Value::Bin(self.binary()?),
            ttype::STRUCT => {
                let mut fields = Vec::new();
                loop {
                    let t = self.u8()?;
                    if t == ttype::STOP {
                        break;
                    }
                    let id = self.i16()?;
                    fields.push((id, self.value_at(t, depth + 1)?));
                }
                Value::Struct(fields)
            }
            ttype::MAP => {
                let (kt, vt) = (self.u8()?, self.u8()?);
                let n = self.size("map", 2)?;
                let mut m = Vec::with_capacity(self.reserve(n, 2));
                for _ in 0..n {
                    let k = self.value_at(kt, depth + 1)?;
                    m.push((k, self.value_at(vt, depth + 1)?));
                }
                Value::Map(m)
            }
            ttype::LIST | ttype::SET => {
                let et = self.u8()?;
                let n = self.size("list", 1)?;
                let mut l = Vec::with_capacity(self.reserve(n, 1));
                for _ in 0..n {
                    l.push(self.value_at(et, depth + 1)?);
                }
                Value::List(l)
            }
            other => return Err(DecodeError::Invalid(format!("unknown field type {other}"))),
        })
    }
}

/// A whole reply: the header and the result struct.
#[derive(Debug)]
pub struct Message {
    pub kind: u8,
    pub name: String,
    pub seq: i32,
    pub body: Value,
}

/// Decodes one message from the start of `buf`; returns it and the bytes it took.
pub fn decode_message(buf: &[u8]) -> Result<(Message, usize), DecodeError> {
    let mut r = Reader::new(buf);
    let (kind, name, seq) = r.message_begin()?;
    let body = r.value(ttype::STRUCT)?;
    Ok((
        Message {
            kind,
            name,
            seq,
            body,
        },
        r.position(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_type_round_trips() {
        let mut w = Writer::new();
        w.message_begin("Ping", CALL, 7);
        w.field(ttype::BOOL, 1);
        w.bool(true);
        w.field(ttype::I16, 2);
        w.i16(-2);
        w.field(ttype::I64, 3);
        w.i64(i64::MAX);
        w.field(ttype::STRING, 4);
        w.string("grüße");
        w.field(ttype::MAP, 5);
        let m = [("k".to_string(), "v".to_string())];
        w.string_map(m.iter().map(|(k, v)| (k, v)));
        w.stop();
        let (msg, used) = decode_message(&w.buf).unwrap();
        assert_eq!(used, w.buf.len());
        assert_eq!((msg.kind, msg.name.as_str(), msg.seq), (CALL, "Ping", 7));
        assert_eq!(msg.body.field(1).unwrap().bool(), Some(true));
        assert_eq!(msg.body.field(2), Some(&Value::I16(-2)));
        assert_eq!(msg.body.field(3).unwrap().i64(), Some(i64::MAX));
        assert_eq!(msg.body.field(4).unwrap().text().unwrap(), "grüße");
        // Every prefix is incomplete, never a panic or a wrong value.
        for cut in 0..w.buf.len() {
            assert_eq!(
                decode_message(&w.buf[..cut]).unwrap_err(),
                DecodeError::Incomplete,
                "cut at {cut}"
            );
        }
    }

    #[test]
    fn garbage_is_invalid_not_a_huge_allocation() {
        assert!(matches!(
            decode_message(b"HTTP/1.1 400 Bad Request\r\n"),
            Err(DecodeError::Invalid(_))
        ));
        // A list claiming two billion elements.
        let mut w = Writer::new();
        w.message_begin("X", REPLY, 1);
        w.field(ttype::LIST, 0);
        w.buf.push(ttype::I64);
        w.i32(i32::MAX);
        assert!(matches!(
            decode_message(&w.buf),
            Err(DecodeError::Invalid(_))
        ));
    }
}
