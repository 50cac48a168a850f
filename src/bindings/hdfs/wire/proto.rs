//! The protobuf messages of the HDFS write path, written from Hadoop's `.proto` definitions
//! (RpcHeader, IpcConnectionContext, ProtobufRpcEngine, ClientNamenodeProtocol, hdfs, datatransfer):
//! only the fields this client sends or reads. proto2 `required` fields are marked so, which makes
//! prost encode them even when they hold a default value (Java's parser rejects a message without
//! them); enums are carried as `int32`, which has the same varint encoding.

// ---- Hadoop RPC (common) ----

/// `RpcKindProto.RPC_PROTOCOL_BUFFER`.
pub const RPC_PROTOCOL_BUFFER: i32 = 2;
/// `RpcRequestHeaderProto.OperationProto.RPC_FINAL_PACKET`.
pub const RPC_FINAL_PACKET: i32 = 0;

#[derive(Clone, PartialEq, prost::Message)]
pub struct RpcRequestHeader {
    #[prost(int32, optional, tag = "1")]
    pub rpc_kind: Option<i32>,
    #[prost(int32, optional, tag = "2")]
    pub rpc_op: Option<i32>,
    #[prost(sint32, required, tag = "3")]
    pub call_id: i32,
    #[prost(bytes = "vec", required, tag = "4")]
    pub client_id: Vec<u8>,
    #[prost(sint32, optional, tag = "5")]
    pub retry_count: Option<i32>,
}

/// `RpcResponseHeaderProto.RpcStatusProto.SUCCESS`.
pub const RPC_SUCCESS: i32 = 0;

#[derive(Clone, PartialEq, prost::Message)]
pub struct RpcResponseHeader {
    #[prost(uint32, required, tag = "1")]
    pub call_id: u32,
    #[prost(int32, required, tag = "2")]
    pub status: i32,
    #[prost(uint32, optional, tag = "3")]
    pub server_ipc_version_num: Option<u32>,
    #[prost(string, optional, tag = "4")]
    pub exception_class_name: Option<String>,
    #[prost(string, optional, tag = "5")]
    pub error_msg: Option<String>,
    #[prost(int32, optional, tag = "6")]
    pub error_detail: Option<i32>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct UserInformation {
    #[prost(string, optional, tag = "1")]
    pub effective_user: Option<String>,
    #[prost(string, optional, tag = "2")]
    pub real_user: Option<String>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct IpcConnectionContext {
    #[prost(message, optional, tag = "2")]
    pub user_info: Option<UserInformation>,
    #[prost(string, optional, tag = "3")]
    pub protocol: Option<String>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct RequestHeader {
    #[prost(string, required, tag = "1")]
    pub method_name: String,
    #[prost(string, required, tag = "2")]
    pub declaring_class_protocol_name: String,
    #[prost(uint64, required, tag = "3")]
    pub client_protocol_version: u64,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Token {
    #[prost(bytes = "vec", required, tag = "1")]
    pub identifier: Vec<u8>,
    #[prost(bytes = "vec", required, tag = "2")]
    pub password: Vec<u8>,
    #[prost(string, required, tag = "3")]
    pub kind: String,
    #[prost(string, required, tag = "4")]
    pub service: String,
}

// ---- hdfs.proto ----

#[derive(Clone, PartialEq, prost::Message)]
pub struct ExtendedBlock {
    #[prost(string, required, tag = "1")]
    pub pool_id: String,
    #[prost(uint64, required, tag = "2")]
    pub block_id: u64,
    #[prost(uint64, required, tag = "3")]
    pub generation_stamp: u64,
    #[prost(uint64, optional, tag = "4")]
    pub num_bytes: Option<u64>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct DatanodeId {
    #[prost(string, required, tag = "1")]
    pub ip_addr: String,
    #[prost(string, required, tag = "2")]
    pub host_name: String,
    #[prost(string, required, tag = "3")]
    pub datanode_uuid: String,
    #[prost(uint32, required, tag = "4")]
    pub xfer_port: u32,
    #[prost(uint32, required, tag = "5")]
    pub info_port: u32,
    #[prost(uint32, required, tag = "6")]
    pub ipc_port: u32,
    #[prost(uint32, optional, tag = "7")]
    pub info_secure_port: Option<u32>,
}

/// A DataNode as the NameNode describes it; only its identity is kept (and sent on to the pipeline).
#[derive(Clone, PartialEq, prost::Message)]
pub struct DatanodeInfo {
    #[prost(message, required, tag = "1")]
    pub id: DatanodeId,
    #[prost(string, optional, tag = "8")]
    pub location: Option<String>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct LocatedBlock {
    #[prost(message, required, tag = "1")]
    pub b: ExtendedBlock,
    #[prost(uint64, required, tag = "2")]
    pub offset: u64,
    #[prost(message, repeated, tag = "3")]
    pub locs: Vec<DatanodeInfo>,
    #[prost(bool, required, tag = "4")]
    pub corrupt: bool,
    #[prost(message, required, tag = "5")]
    pub block_token: Token,
    #[prost(int32, repeated, packed = "false", tag = "7")]
    pub storage_types: Vec<i32>,
    #[prost(string, repeated, tag = "8")]
    pub storage_ids: Vec<String>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct FsPermission {
    #[prost(uint32, required, tag = "1")]
    pub perm: u32,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct FsServerDefaults {
    #[prost(uint64, required, tag = "1")]
    pub block_size: u64,
    #[prost(uint32, required, tag = "2")]
    pub bytes_per_checksum: u32,
    #[prost(uint32, required, tag = "3")]
    pub write_packet_size: u32,
    #[prost(uint32, required, tag = "4")]
    pub replication: u32,
    #[prost(uint32, required, tag = "5")]
    pub file_buffer_size: u32,
    #[prost(bool, optional, tag = "6")]
    pub encrypt_data_transfer: Option<bool>,
    #[prost(int32, optional, tag = "8")]
    pub checksum_type: Option<i32>,
}

/// Only the file id of `HdfsFileStatusProto` is read (its other fields are skipped on decode).
#[derive(Clone, PartialEq, prost::Message)]
pub struct HdfsFileStatus {
    #[prost(uint64, optional, tag = "13")]
    pub file_id: Option<u64>,
}

// ---- ClientNamenodeProtocol.proto ----

/// `CreateFlagProto`.
pub const CREATE_FLAG_CREATE: u32 = 0x01;
pub const CREATE_FLAG_OVERWRITE: u32 = 0x02;
/// `CryptoProtocolVersionProto.ENCRYPTION_ZONES`.
pub const CRYPTO_ENCRYPTION_ZONES: i32 = 2;

#[derive(Clone, PartialEq, prost::Message)]
pub struct GetServerDefaultsRequest {}

#[derive(Clone, PartialEq, prost::Message)]
pub struct GetServerDefaultsResponse {
    #[prost(message, required, tag = "1")]
    pub server_defaults: FsServerDefaults,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct CreateRequest {
    #[prost(string, required, tag = "1")]
    pub src: String,
    #[prost(message, required, tag = "2")]
    pub masked: FsPermission,
    #[prost(string, required, tag = "3")]
    pub client_name: String,
    #[prost(uint32, required, tag = "4")]
    pub create_flag: u32,
    #[prost(bool, required, tag = "5")]
    pub create_parent: bool,
    #[prost(uint32, required, tag = "6")]
    pub replication: u32,
    #[prost(uint64, required, tag = "7")]
    pub block_size: u64,
    #[prost(int32, repeated, packed = "false", tag = "8")]
    pub crypto_protocol_version: Vec<i32>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct CreateResponse {
    #[prost(message, optional, tag = "1")]
    pub fs: Option<HdfsFileStatus>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct AddBlockRequest {
    #[prost(string, required, tag = "1")]
    pub src: String,
    #[prost(string, required, tag = "2")]
    pub client_name: String,
    #[prost(message, optional, tag = "3")]
    pub previous: Option<ExtendedBlock>,
    #[prost(message, repeated, tag = "4")]
    pub exclude_nodes: Vec<DatanodeInfo>,
    #[prost(uint64, optional, tag = "5")]
    pub file_id: Option<u64>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct AddBlockResponse {
    #[prost(message, required, tag = "1")]
    pub block: LocatedBlock,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct AbandonBlockRequest {
    #[prost(message, required, tag = "1")]
    pub b: ExtendedBlock,
    #[prost(string, required, tag = "2")]
    pub src: String,
    #[prost(string, required, tag = "3")]
    pub holder: String,
    #[prost(uint64, optional, tag = "4")]
    pub file_id: Option<u64>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct CompleteRequest {
    #[prost(string, required, tag = "1")]
    pub src: String,
    #[prost(string, required, tag = "2")]
    pub client_name: String,
    #[prost(message, optional, tag = "3")]
    pub last: Option<ExtendedBlock>,
    #[prost(uint64, optional, tag = "4")]
    pub file_id: Option<u64>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct CompleteResponse {
    #[prost(bool, required, tag = "1")]
    pub result: bool,
}

/// Answers that carry nothing this client reads (abandonBlock).
#[derive(Clone, PartialEq, prost::Message)]
pub struct Empty {}

// ---- datatransfer.proto ----

/// `ChecksumTypeProto.CHECKSUM_CRC32C`.
pub const CHECKSUM_CRC32C: i32 = 2;
/// `OpWriteBlockProto.BlockConstructionStage.PIPELINE_SETUP_CREATE`.
pub const STAGE_PIPELINE_SETUP_CREATE: i32 = 6;
/// `Status.SUCCESS`.
pub const STATUS_SUCCESS: i32 = 0;

#[derive(Clone, PartialEq, prost::Message)]
pub struct BaseHeader {
    #[prost(message, required, tag = "1")]
    pub block: ExtendedBlock,
    #[prost(message, optional, tag = "2")]
    pub token: Option<Token>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct ClientOperationHeader {
    #[prost(message, required, tag = "1")]
    pub base_header: BaseHeader,
    #[prost(string, required, tag = "2")]
    pub client_name: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Checksum {
    #[prost(int32, required, tag = "1")]
    pub r#type: i32,
    #[prost(uint32, required, tag = "2")]
    pub bytes_per_checksum: u32,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct OpWriteBlock {
    #[prost(message, required, tag = "1")]
    pub header: ClientOperationHeader,
    /// The DataNodes after the first, which the first forwards the block to.
    #[prost(message, repeated, tag = "2")]
    pub targets: Vec<DatanodeInfo>,
    #[prost(int32, required, tag = "4")]
    pub stage: i32,
    #[prost(uint32, required, tag = "5")]
    pub pipeline_size: u32,
    #[prost(uint64, required, tag = "6")]
    pub min_bytes_rcvd: u64,
    #[prost(uint64, required, tag = "7")]
    pub max_bytes_rcvd: u64,
    #[prost(uint64, required, tag = "8")]
    pub latest_generation_stamp: u64,
    #[prost(message, required, tag = "9")]
    pub requested_checksum: Checksum,
    #[prost(int32, optional, tag = "11")]
    pub storage_type: Option<i32>,
    #[prost(int32, repeated, packed = "false", tag = "12")]
    pub target_storage_types: Vec<i32>,
    #[prost(string, optional, tag = "16")]
    pub storage_id: Option<String>,
    #[prost(string, repeated, tag = "17")]
    pub target_storage_ids: Vec<String>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct BlockOpResponse {
    #[prost(int32, required, tag = "1")]
    pub status: i32,
    #[prost(string, optional, tag = "2")]
    pub first_bad_link: Option<String>,
    #[prost(string, optional, tag = "5")]
    pub message: Option<String>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct PacketHeader {
    #[prost(sfixed64, required, tag = "1")]
    pub offset_in_block: i64,
    #[prost(sfixed64, required, tag = "2")]
    pub seqno: i64,
    #[prost(bool, required, tag = "3")]
    pub last_packet_in_block: bool,
    #[prost(sfixed32, required, tag = "4")]
    pub data_len: i32,
    #[prost(bool, optional, tag = "5")]
    pub sync_block: Option<bool>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct PipelineAck {
    #[prost(sint64, required, tag = "1")]
    pub seqno: i64,
    #[prost(int32, repeated, packed = "false", tag = "2")]
    pub reply: Vec<i32>,
    #[prost(uint64, optional, tag = "3")]
    pub downstream_ack_time_nanos: Option<u64>,
    #[prost(uint32, repeated, tag = "4")]
    pub flag: Vec<u32>,
}
