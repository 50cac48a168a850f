//! Writing one block to its DataNode pipeline (DataTransferProtocol version 28, `WRITE_BLOCK`),
//! written from Hadoop's datatransfer.proto and its description of the packet format.
//!
//! The request: the version (2 bytes), the op code 80, a varint-delimited `OpWriteBlockProto`; the
//! first DataNode answers a delimited `BlockOpResponseProto`. Then packets, each
//! `[4-byte length = 4 + checksums + data][2-byte header length][PacketHeaderProto][checksums][data]`,
//! with one CRC32C (big-endian) per 512 bytes of data, and an empty last packet that closes the block.
//! Every packet is acknowledged (a delimited `PipelineAckProto` carrying one status per DataNode of
//! the pipeline) in order; up to `max_in_flight` packets are sent ahead of their acknowledgements.
//! `packet.rs` makes the packets and checks the acknowledgements.

use super::packet::{check_ack, packet, read_delimited};
use super::proto::{
    BaseHeader, BlockOpResponse, Checksum, ClientOperationHeader, LocatedBlock, OpWriteBlock,
    PipelineAck, CHECKSUM_CRC32C, STAGE_PIPELINE_SETUP_CREATE, STATUS_SUCCESS,
};
use prost::Message;
use tokio::io::{AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;

const DATA_TRANSFER_VERSION: u16 = 28;
const OP_WRITE_BLOCK: u8 = 80;

#[derive(Debug, Clone)]
pub struct PipelineOptions {
    /// Bytes covered by one checksum (Hadoop's `dfs.bytes-per-checksum`, 512).
    pub bytes_per_checksum: usize,
    /// Bytes of a packet, header and checksums included (`dfs.client-write-packet-size`, 64 KiB).
    pub packet_size: usize,
    /// Packets sent ahead of their acknowledgements (`dfs.client.write.max-packets-in-flight`, 80).
    pub max_in_flight: usize,
}

impl Default for PipelineOptions {
    fn default() -> Self {
        PipelineOptions {
            bytes_per_checksum: 512,
            packet_size: 64 * 1024,
            max_in_flight: 80,
        }
    }
}

impl PipelineOptions {
    /// Data bytes per packet: as many whole checksum chunks as fit beside a header (at most 64 bytes).
    pub fn data_per_packet(&self) -> usize {
        let chunk = self.bytes_per_checksum + 4;
        let chunks = (self.packet_size.saturating_sub(4 + 2 + 64) / chunk).max(1);
        chunks * self.bytes_per_checksum
    }
}

#[derive(Debug)]
pub enum PipelineError {
    Io(std::io::Error),
    /// Bytes that do not follow the protocol.
    Protocol(String),
    /// A DataNode refused the block or a packet (its status, and the node it names).
    Refused(String),
    /// Setting up the pipeline failed at one of its DataNodes (its index in the block's locations):
    /// the first could not be reached, or a DataNode named another as its first bad link. The writer
    /// asks for the block again without it, as Hadoop's client does.
    BadNode {
        node: usize,
        message: String,
        /// The DataNode could not be reached at all (no connection).
        unreachable: bool,
    },
}

impl std::fmt::Display for PipelineError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PipelineError::Io(e) => write!(f, "{e}"),
            PipelineError::Protocol(m) | PipelineError::Refused(m) => f.write_str(m),
            PipelineError::BadNode { message, .. } => f.write_str(message),
        }
    }
}

impl From<std::io::Error> for PipelineError {
    fn from(e: std::io::Error) -> Self {
        PipelineError::Io(e)
    }
}

/// The write request for a new block at the first DataNode of `lb`'s pipeline.
pub fn write_request(lb: &LocatedBlock, client_name: &str, opts: &PipelineOptions) -> Vec<u8> {
    let op = OpWriteBlock {
        header: ClientOperationHeader {
            base_header: BaseHeader {
                block: lb.b.clone(),
                token: Some(lb.block_token.clone()),
            },
            client_name: client_name.to_string(),
        },
        targets: lb.locs.iter().skip(1).cloned().collect(),
        stage: STAGE_PIPELINE_SETUP_CREATE,
        pipeline_size: lb.locs.len() as u32,
        min_bytes_rcvd: 0,
        max_bytes_rcvd: 0,
        latest_generation_stamp: lb.b.generation_stamp,
        requested_checksum: Checksum {
            r#type: CHECKSUM_CRC32C,
            bytes_per_checksum: opts.bytes_per_checksum as u32,
        },
        storage_type: lb.storage_types.first().copied(),
        target_storage_types: lb.storage_types.iter().skip(1).copied().collect(),
        storage_id: lb.storage_ids.first().cloned(),
        target_storage_ids: lb.storage_ids.iter().skip(1).cloned().collect(),
    };
    let mut out = Vec::with_capacity(512);
    out.extend_from_slice(&DATA_TRANSFER_VERSION.to_be_bytes());
    out.push(OP_WRITE_BLOCK);
    op.encode_length_delimited(&mut out)
        .expect("a Vec grows as needed");
    out
}

/// Writes `data` as the whole of the new block `lb` through its pipeline; returns when every
/// DataNode acknowledged the last packet.
pub async fn write_block(
    lb: &LocatedBlock,
    client_name: &str,
    data: &[u8],
    opts: &PipelineOptions,
) -> Result<(), PipelineError> {
    let nodes: Vec<String> = lb
        .locs
        .iter()
        .map(|d| format!("{}:{}", d.id.ip_addr, d.id.xfer_port))
        .collect();
    let first = nodes
        .first()
        .ok_or_else(|| PipelineError::Refused("the NameNode gave the block no DataNode".into()))?;
    let stream = TcpStream::connect(first.as_str())
        .await
        .map_err(|e| PipelineError::BadNode {
            node: 0,
            message: format!("DataNode {first}: {e}"),
            unreachable: true,
        })?;
    stream.set_nodelay(true)?;
    let (rd, mut wr) = stream.into_split();
    let mut rd = BufReader::new(rd);
    let setup = async {
        wr.write_all(&write_request(lb, client_name, opts))
            .await
            .map_err(PipelineError::from)?;
        read_delimited::<BlockOpResponse, _>(&mut rd).await
    };
    let resp: BlockOpResponse = setup.await.map_err(|e| PipelineError::BadNode {
        node: 0,
        message: format!("DataNode {first}: {e}"),
        unreachable: false,
    })?;
    if resp.status != STATUS_SUCCESS {
        let bad = resp.first_bad_link.clone().filter(|l| !l.is_empty());
        let message = format!(
            "DataNode {first} refused the block (status {}{}{})",
            resp.status,
            bad.as_ref()
                .map(|l| format!(", first bad link {l}"))
                .unwrap_or_default(),
            resp.message.map(|m| format!(": {m}")).unwrap_or_default()
        );
        return Err(match bad.and_then(|l| nodes.iter().position(|n| *n == l)) {
            Some(node) => PipelineError::BadNode {
                node,
                message,
                unreachable: false,
            },
            None => PipelineError::Refused(message),
        });
    }

    let per = opts.data_per_packet();
    let packets = data.len().div_ceil(per) as i64 + 1; // the data, then the empty closing packet
    let window = Semaphore::new(opts.max_in_flight.max(1));
    let send = async {
        let mut offset = 0usize;
        for seqno in 0..packets {
            window
                .acquire()
                .await
                .map_err(|_| PipelineError::Protocol("the ack reader stopped".into()))?
                .forget();
            let end = (offset + per).min(data.len());
            let last = seqno == packets - 1;
            let p = packet(
                seqno,
                offset as u64,
                &data[offset..end],
                last,
                opts.bytes_per_checksum,
            );
            wr.write_all(&p).await?;
            offset = end;
        }
        wr.flush().await?;
        Ok::<(), PipelineError>(())
    };
    let acks = async {
        for seqno in 0..packets {
            let a: PipelineAck = match read_delimited(&mut rd).await {
                Ok(a) => a,
                Err(e) => {
                    window.close();
                    return Err(e);
                }
            };
            if let Err(e) = check_ack(&a, seqno, &nodes) {
                window.close();
                return Err(e);
            }
            window.add_permits(1);
        }
        Ok::<(), PipelineError>(())
    };
    tokio::try_join!(send, acks)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_default_packet_carries_126_chunks() {
        // 64 KiB packets as Hadoop's client sends them: 126 chunks of 512 bytes and their checksums.
        assert_eq!(PipelineOptions::default().data_per_packet(), 126 * 512);
    }

    fn dn(ip: &str, p: u32) -> super::super::proto::DatanodeInfo {
        use super::super::proto::{DatanodeId, DatanodeInfo};
        DatanodeInfo {
            id: DatanodeId {
                ip_addr: ip.into(),
                host_name: "h".into(),
                datanode_uuid: format!("u{p}"),
                xfer_port: p,
                info_port: 1,
                ipc_port: 2,
                info_secure_port: None,
            },
            location: None,
        }
    }

    fn block(locs: Vec<super::super::proto::DatanodeInfo>) -> LocatedBlock {
        use super::super::proto::{ExtendedBlock, Token};
        let n = locs.len();
        LocatedBlock {
            b: ExtendedBlock {
                pool_id: "BP-1".into(),
                block_id: 5,
                generation_stamp: 1001,
                num_bytes: Some(0),
            },
            offset: 0,
            locs,
            corrupt: false,
            block_token: Token::default(),
            storage_types: vec![1; n],
            storage_ids: (1..=n).map(|i| format!("s{i}")).collect(),
        }
    }

    /// A port nothing listens on (bound, then let go).
    fn closed_port() -> u32 {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port() as u32
    }

    #[tokio::test]
    async fn an_unreachable_first_datanode_is_named_bad_and_unreachable() {
        let lb = block(vec![dn("127.0.0.1", closed_port()), dn("127.0.0.1", 2)]);
        match write_block(&lb, "c", b"x", &PipelineOptions::default()).await {
            Err(PipelineError::BadNode {
                node: 0,
                unreachable: true,
                ..
            }) => {}
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn the_first_bad_link_a_datanode_names_is_the_bad_node() {
        use tokio::io::AsyncWriteExt;
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = l.local_addr().unwrap().port() as u32;
        let dead = closed_port();
        // The first DataNode answers the write request: error, the second is its first bad link.
        let server = tokio::spawn(async move {
            let (mut s, _) = l.accept().await.unwrap();
            let resp = BlockOpResponse {
                status: 1,
                first_bad_link: Some(format!("127.0.0.1:{dead}")),
                message: Some("connect failed".into()),
            };
            s.write_all(&resp.encode_length_delimited_to_vec())
                .await
                .unwrap();
            let mut sink = Vec::new();
            let _ = tokio::io::AsyncReadExt::read_to_end(&mut s, &mut sink).await;
        });
        let lb = block(vec![
            dn("127.0.0.1", port),
            dn("127.0.0.1", dead),
            dn("127.0.0.1", 3),
        ]);
        match write_block(&lb, "c", b"x", &PipelineOptions::default()).await {
            Err(PipelineError::BadNode {
                node: 1,
                unreachable: false,
                message,
            }) => assert!(message.contains("first bad link"), "{message}"),
            other => panic!("{other:?}"),
        }
        server.abort();
    }

    #[test]
    fn the_write_request_names_the_rest_of_the_pipeline_as_targets() {
        let lb = block(vec![
            dn("127.0.0.1", 1),
            dn("127.0.0.1", 2),
            dn("127.0.0.1", 3),
        ]);
        let r = write_request(&lb, "c", &PipelineOptions::default());
        assert_eq!(&r[0..3], &[0, 28, 80]);
        let op = OpWriteBlock::decode_length_delimited(&r[3..]).unwrap();
        assert_eq!(op.pipeline_size, 3);
        assert_eq!(
            op.targets
                .iter()
                .map(|t| t.id.xfer_port)
                .collect::<Vec<_>>(),
            vec![2, 3]
        );
        assert_eq!(op.storage_id.as_deref(), Some("s1"));
        assert_eq!(
            op.target_storage_ids,
            vec!["s2".to_string(), "s3".to_string()]
        );
        assert_eq!(op.latest_generation_stamp, 1001);
        assert_eq!(op.requested_checksum.r#type, CHECKSUM_CRC32C);
    }
}
