#include "tools/durable_peers.hpp"

#include <filesystem>
#include <string>

#include <lmdb.h>
#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/write_batch.h>

namespace tessel::tools {
namespace {

MDB_val mdb_val(std::string_view s) {
  // LMDB's API takes non-const pointers but does not write through them for keys and data of mdb_put/get.
  return {s.size(), const_cast<char*>(s.data())};
}

tl::unexpected<error> lmdb_error(int rc, std::string_view what) {
  return make_error(errc::io_error, "lmdb " + std::string(what) + ": " + mdb_strerror(rc));
}

class lmdb_peer final : public durable_peer {
 public:
  ~lmdb_peer() override {
    if (read_txn_ != nullptr) mdb_txn_abort(read_txn_);
    if (env_ != nullptr) mdb_env_close(env_);
  }

  result<void> open(const std::string& dir) {
    std::filesystem::create_directories(dir);
    if (int rc = mdb_env_create(&env_); rc != 0) return lmdb_error(rc, "env_create");
    // LMDB needs its maximum size declared up front; 64 GiB of address space covers every run here.
    if (int rc = mdb_env_set_mapsize(env_, std::size_t{64} << 30); rc != 0) return lmdb_error(rc, "set_mapsize");
    if (int rc = mdb_env_open(env_, dir.c_str(), MDB_NORDAHEAD, 0600); rc != 0) return lmdb_error(rc, "env_open");
    MDB_txn* txn = nullptr;
    if (int rc = mdb_txn_begin(env_, nullptr, 0, &txn); rc != 0) return lmdb_error(rc, "txn_begin");
    if (int rc = mdb_dbi_open(txn, nullptr, 0, &dbi_); rc != 0) {
      mdb_txn_abort(txn);
      return lmdb_error(rc, "dbi_open");
    }
    if (int rc = mdb_txn_commit(txn); rc != 0) return lmdb_error(rc, "commit");
    return {};
  }

  std::string_view name() const noexcept override { return "lmdb"; }

  result<void> put(std::string_view key, std::string_view value) override {
    MDB_txn* txn = nullptr;
    if (int rc = mdb_txn_begin(env_, nullptr, 0, &txn); rc != 0) return lmdb_error(rc, "txn_begin");
    MDB_val k = mdb_val(key);
    MDB_val v = mdb_val(value);
    if (int rc = mdb_put(txn, dbi_, &k, &v, 0); rc != 0) {
      mdb_txn_abort(txn);
      return lmdb_error(rc, "put");
    }
    if (int rc = mdb_txn_commit(txn); rc != 0) return lmdb_error(rc, "commit");  // synced: durable here
    return {};
  }

  result<void> load(const std::function<bool(std::string&, std::string&)>& next) override {
    MDB_txn* txn = nullptr;
    if (int rc = mdb_txn_begin(env_, nullptr, 0, &txn); rc != 0) return lmdb_error(rc, "txn_begin");
    std::string key;
    std::string value;
    while (next(key, value)) {
      MDB_val k = mdb_val(key);
      MDB_val v = mdb_val(value);
      if (int rc = mdb_put(txn, dbi_, &k, &v, 0); rc != 0) {
        mdb_txn_abort(txn);
        return lmdb_error(rc, "put");
      }
    }
    if (int rc = mdb_txn_commit(txn); rc != 0) return lmdb_error(rc, "commit");
    return {};
  }

  void begin_reads() override { (void)mdb_txn_begin(env_, nullptr, MDB_RDONLY, &read_txn_); }

  long get(std::string_view key) override {
    MDB_val k = mdb_val(key);
    MDB_val v{};
    if (mdb_get(read_txn_, dbi_, &k, &v) != 0) return -1;
    return static_cast<long>(v.mv_size);
  }

 private:
  MDB_env* env_ = nullptr;
  MDB_dbi dbi_ = 0;
  MDB_txn* read_txn_ = nullptr;
};

tl::unexpected<error> rocks_error(const rocksdb::Status& s, std::string_view what) {
  return make_error(errc::io_error, "rocksdb " + std::string(what) + ": " + s.ToString());
}

class rocksdb_peer final : public durable_peer {
 public:
  result<void> open(const std::string& dir) {
    rocksdb::Options o;
    o.create_if_missing = true;
    rocksdb::DB* db = nullptr;
    const rocksdb::Status s = rocksdb::DB::Open(o, dir, &db);
    if (!s.ok()) return rocks_error(s, "open");
    db_.reset(db);
    sync_.sync = true;
    return {};
  }

  std::string_view name() const noexcept override { return "rocksdb"; }

  result<void> put(std::string_view key, std::string_view value) override {
    const rocksdb::Status s =
        db_->Put(sync_, rocksdb::Slice(key.data(), key.size()), rocksdb::Slice(value.data(), value.size()));
    if (!s.ok()) return rocks_error(s, "put");
    return {};
  }

  result<void> load(const std::function<bool(std::string&, std::string&)>& next) override {
    rocksdb::WriteBatch batch;
    std::string key;
    std::string value;
    while (next(key, value)) batch.Put(key, value);
    const rocksdb::Status s = db_->Write(sync_, &batch);
    if (!s.ok()) return rocks_error(s, "write batch");
    return {};
  }

  void begin_reads() override {}

  long get(std::string_view key) override {
    rocksdb::PinnableSlice v;
    const rocksdb::Status s =
        db_->Get(rocksdb::ReadOptions(), db_->DefaultColumnFamily(), rocksdb::Slice(key.data(), key.size()), &v);
    return s.ok() ? static_cast<long>(v.size()) : -1;
  }

 private:
  std::unique_ptr<rocksdb::DB> db_;
  rocksdb::WriteOptions sync_;
};

}  // namespace

result<std::unique_ptr<durable_peer>> open_lmdb(const std::string& dir) {
  auto p = std::make_unique<lmdb_peer>();
  if (auto ok = p->open(dir); !ok) return tl::unexpected(std::move(ok.error()));
  return std::unique_ptr<durable_peer>(std::move(p));
}

result<std::unique_ptr<durable_peer>> open_rocksdb(const std::string& dir) {
  auto p = std::make_unique<rocksdb_peer>();
  if (auto ok = p->open(dir); !ok) return tl::unexpected(std::move(ok.error()));
  return std::unique_ptr<durable_peer>(std::move(p));
}

}  // namespace tessel::tools
