// LMDB and RocksDB, set up the way their users run them durably, as peers for `tessel bench --durable`:
// LMDB with a synced commit per write (its default: no MDB_NOSYNC), RocksDB with WriteOptions::sync = true
// (the WAL is fsynced before the write returns; concurrent writers share a sync, as tessel's log does).
//
// Thread safety: put may be called from several threads (each peer serialises or groups as it does in
// production); get and load from one thread with no writer.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "tessel/error.hpp"

namespace tessel::tools {

class durable_peer {
 public:
  virtual ~durable_peer() = default;
  [[nodiscard]] virtual std::string_view name() const noexcept = 0;
  /// One durable write: returns once it survives power loss.
  [[nodiscard]] virtual result<void> put(std::string_view key, std::string_view value) = 0;
  /// Many writes in one batch, durable once at the end (for loading a get benchmark).
  [[nodiscard]] virtual result<void> load(const std::function<bool(std::string&, std::string&)>& next) = 0;
  /// The value's size, or -1 when absent. The peer's cheapest read (LMDB: one long read transaction).
  [[nodiscard]] virtual long get(std::string_view key) = 0;
  /// Ends the load: readers of `get` may start.
  virtual void begin_reads() = 0;
};

/// Errors: io_error naming the peer's own message.
[[nodiscard]] result<std::unique_ptr<durable_peer>> open_lmdb(const std::string& dir);
[[nodiscard]] result<std::unique_ptr<durable_peer>> open_rocksdb(const std::string& dir);

}  // namespace tessel::tools
