#include "store/log_recovery.hpp"

#include <string>
#include <utility>

#include "log/log_reader.hpp"
#include "store/batch_ops.hpp"

namespace tessel::detail {

result<void> apply_log_record(store_tree& tree, const oplog::record_view& r) noexcept {
  switch (r.kind) {
    case oplog::op_kind::put:
      if (auto ok = tree.upsert(r.key, r.value); !ok) return tl::unexpected(std::move(ok.error()));
      break;
    case oplog::op_kind::erase:
      if (auto ok = tree.erase(r.key); !ok) return tl::unexpected(std::move(ok.error()));
      break;
    case oplog::op_kind::clear: tree.clear(); break;
    case oplog::op_kind::batch: {
      auto ops = decode_ops(as_string_view(r.value));
      if (!ops) {
        return make_error(ops.error().code(),
                          "log record " + std::to_string(r.seq) + ": " + std::string(ops.error().message()));
      }
      std::size_t applied = 0;
      return apply_ops(tree, *ops, applied);
    }
  }
  return {};
}

result<void> apply_ops(store_tree& tree, std::span<const batch_op> ops, std::size_t& applied) noexcept {
  for (applied = 0; applied < ops.size(); ++applied) {
    const batch_op& op = ops[applied];
    if (op.erase) {
      if (auto ok = tree.erase(as_bytes(op.key)); !ok) return tl::unexpected(std::move(ok.error()));
    } else if (auto ok = tree.upsert(as_bytes(op.key), as_bytes(op.value)); !ok) {
      return tl::unexpected(std::move(ok.error()));
    }
  }
  return {};
}

result<void> recover_log(store_impl& impl) noexcept {
  durable_state& d = *impl.durable();
  try {
    const std::filesystem::path dir = log_directory(d.committer->file().directory());
    const auto& id = d.committer->file().super().id;
    store_tree& tree = impl.tree();
    auto report = oplog::scan_log(dir, id, d.recovery.meta.at_seq,
                                  [&](const oplog::record_view& r) { return apply_log_record(tree, r); });
    if (!report) {
      return make_error(report.error().code(), "replaying the operation log: " + std::string(report.error().message()));
    }
    d.replayed_records = report->replayed;
    if (report->replayed > 0) {
      d.dirty = true;
      d.first_dirty = std::chrono::steady_clock::now();
    }
    if (d.opts.read_only) return {};
    if (report->damage) {
      if (auto ok = oplog::cut_tail(*report->damage); !ok) return ok;
    }
    oplog::log_options lo;
    lo.segment_bytes = d.opts.log_segment_bytes;
    lo.simulate_power_loss = d.opts.simulate_power_loss;
    auto writer = oplog::log_writer::open(dir, id, report->next_seq, lo);
    if (!writer) return tl::unexpected(std::move(writer.error()));
    d.log = std::move(*writer);
    d.log_bytes_at_commit = d.log->retained_bytes();
    return {};
  } catch (...) {
    return make_error(errc::no_memory, "recovering the operation log");
  }
}

}  // namespace tessel::detail
