//! A block's packets and their acknowledgements (DataTransferProtocol), and the varint-delimited
//! messages a DataNode answers with. The packet format is described in `pipeline.rs`.

use super::pipeline::PipelineError;
use super::proto::{PacketHeader, PipelineAck, STATUS_SUCCESS};
use crc::{Crc, Table, CRC_32_ISCSI};
use prost::Message;
use tokio::io::{AsyncRead, AsyncReadExt};

const CRC32C: Crc<u32, Table<16>> = Crc::<u32, Table<16>>::new(&CRC_32_ISCSI);
/// Largest delimited message accepted from a DataNode (an ack or a response is a few bytes).
const MAX_MESSAGE: usize = 1 << 20;

/// One packet of a block: `data` starting at `offset` in the block, its checksums computed here.
pub fn packet(
    seqno: i64,
    offset: u64,
    data: &[u8],
    last: bool,
    bytes_per_checksum: usize,
) -> Vec<u8> {
    let header = PacketHeader {
        offset_in_block: offset as i64,
        seqno,
        last_packet_in_block: last,
        data_len: data.len() as i32,
        sync_block: None,
    }
    .encode_to_vec();
    let sums = data.len().div_ceil(bytes_per_checksum) * 4;
    let mut out = Vec::with_capacity(6 + header.len() + sums + data.len());
    out.extend_from_slice(&((4 + sums + data.len()) as u32).to_be_bytes());
    out.extend_from_slice(&(header.len() as u16).to_be_bytes());
    out.extend_from_slice(&header);
    for chunk in data.chunks(bytes_per_checksum) {
        out.extend_from_slice(&CRC32C.checksum(chunk).to_be_bytes());
    }
    out.extend_from_slice(data);
    out
}

/// Reads one varint-delimited message.
pub async fn read_delimited<M: Message + Default, R: AsyncRead + Unpin>(
    r: &mut R,
) -> Result<M, PipelineError> {
    let mut len: u64 = 0;
    for i in 0..10 {
        let b = r.read_u8().await?;
        len |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            break;
        }
        if i == 9 {
            return Err(PipelineError::Protocol(
                "a length prefix over 10 bytes".into(),
            ));
        }
    }
    let len = len as usize;
    if len > MAX_MESSAGE {
        return Err(PipelineError::Protocol(format!(
            "a message of {len} bytes (at most {MAX_MESSAGE} expected)"
        )));
    }
    let mut buf = vec![0u8; len];
    r.read_exact(&mut buf).await?;
    M::decode(buf.as_slice()).map_err(|e| PipelineError::Protocol(format!("a bad message: {e}")))
}

/// The statuses of an ack: `reply`, or (from DataNodes that send only the newer header field) the
/// low four bits of each `flag`.
fn ack_statuses(a: &PipelineAck) -> Vec<i32> {
    if a.reply.is_empty() {
        a.flag.iter().map(|f| (f & 0x0f) as i32).collect()
    } else {
        a.reply.clone()
    }
}

/// Checks one acknowledgement against the seqno it must carry and the pipeline's length.
pub fn check_ack(a: &PipelineAck, want: i64, nodes: &[String]) -> Result<(), PipelineError> {
    if a.seqno != want {
        return Err(PipelineError::Protocol(format!(
            "ack for packet {} where {want} was due",
            a.seqno
        )));
    }
    let st = ack_statuses(a);
    if let Some(i) = st.iter().position(|s| *s != STATUS_SUCCESS) {
        let node = nodes.get(i).map(String::as_str).unwrap_or("?");
        return Err(PipelineError::Refused(format!(
            "DataNode {node} answered status {} to packet {want}",
            st[i]
        )));
    }
    if st.len() < nodes.len() {
        return Err(PipelineError::Protocol(format!(
            "ack for packet {want} with {} statuses for a pipeline of {}",
            st.len(),
            nodes.len()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_packet_has_its_lengths_header_and_one_checksum_per_chunk() {
        let data = vec![7u8; 1000];
        let p = packet(3, 512, &data, false, 512);
        let plen = u32::from_be_bytes(p[0..4].try_into().unwrap()) as usize;
        assert_eq!(plen, 4 + 2 * 4 + 1000);
        let hlen = u16::from_be_bytes(p[4..6].try_into().unwrap()) as usize;
        let h = PacketHeader::decode(&p[6..6 + hlen]).unwrap();
        assert_eq!(
            (
                h.offset_in_block,
                h.seqno,
                h.last_packet_in_block,
                h.data_len
            ),
            (512, 3, false, 1000)
        );
        let sums = &p[6 + hlen..6 + hlen + 8];
        assert_eq!(sums[0..4], CRC32C.checksum(&data[..512]).to_be_bytes());
        assert_eq!(sums[4..8], CRC32C.checksum(&data[512..]).to_be_bytes());
        assert_eq!(p.len(), 4 + 2 + hlen + plen - 4);
    }

    #[test]
    fn crc32c_is_castagnoli() {
        // The check value of CRC-32C (iSCSI): "123456789" -> 0xE3069283.
        assert_eq!(CRC32C.checksum(b"123456789"), 0xE306_9283);
    }

    #[test]
    fn the_closing_packet_is_empty_and_marked_last() {
        let p = packet(9, 4096, &[], true, 512);
        assert_eq!(u32::from_be_bytes(p[0..4].try_into().unwrap()), 4);
        let hlen = u16::from_be_bytes(p[4..6].try_into().unwrap()) as usize;
        let h = PacketHeader::decode(&p[6..6 + hlen]).unwrap();
        assert!(h.last_packet_in_block);
        assert_eq!(h.data_len, 0);
        assert_eq!(p.len(), 6 + hlen);
    }

    #[test]
    fn acks_are_checked_for_order_status_and_pipeline_length() {
        let nodes = vec!["a:1".to_string(), "b:1".to_string()];
        let ok = PipelineAck {
            seqno: 4,
            reply: vec![0, 0],
            ..Default::default()
        };
        assert!(check_ack(&ok, 4, &nodes).is_ok());
        assert!(matches!(
            check_ack(&ok, 5, &nodes),
            Err(PipelineError::Protocol(_))
        ));
        let bad = PipelineAck {
            seqno: 4,
            reply: vec![0, 2],
            ..Default::default()
        };
        let e = check_ack(&bad, 4, &nodes).unwrap_err().to_string();
        assert!(e.contains("b:1") && e.contains("status 2"), "{e}");
        let short = PipelineAck {
            seqno: 4,
            reply: vec![0],
            ..Default::default()
        };
        assert!(matches!(
            check_ack(&short, 4, &nodes),
            Err(PipelineError::Protocol(_))
        ));
        // Only the newer header field: the status is its low four bits (ECN bits above them).
        let flags = PipelineAck {
            seqno: 4,
            flag: vec![0x20, 0x20],
            ..Default::default()
        };
        assert!(check_ack(&flags, 4, &nodes).is_ok());
    }
}
