// tessel::run_snapshots: the oris pattern (../shared/seeds/004) -- snapshots as an optimisation over an
// event log. Each run (a workflow, an actor, a projection) saves its state together with at_seq, the seq of
// the last event applied to produce it; recovery loads the latest snapshot and replays the events after
// at_seq. Kept as entries of a store under the reserved prefix "\xFF\xFFtessel/runs/", so a save is one put:
// atomic and as durable as the store's writes.
//
// Thread safety: as the store it uses.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "tessel/error.hpp"
#include "tessel/store.hpp"

namespace tessel {

struct run_snapshot {
  std::string run_id;
  std::uint64_t at_seq = 0;  ///< the seq of the last event applied to produce `state`
  std::string state;
};

class run_snapshots {
 public:
  /// The run snapshots kept in `s`; `s` must outlive this.
  explicit run_snapshots(store& s) noexcept : store_(&s) {}

  /// Saves `state` as the run's latest, replacing an older one. Errors: conflict (the run has a snapshot
  /// at a later seq: saves arriving out of order must not move it back), invalid_argument (an empty run id,
  /// one over 1 KiB, a state too large for a value), the store's put errors.
  [[nodiscard]] result<void> save(std::string_view run_id, std::uint64_t at_seq, std::string_view state) noexcept;
  /// The run's latest snapshot, or nothing. Errors: corruption (a damaged record), invalid_argument.
  [[nodiscard]] result<std::optional<run_snapshot>> load_latest(std::string_view run_id) const noexcept;
  /// Drops the run's snapshot; false when it had none.
  [[nodiscard]] result<bool> drop(std::string_view run_id) noexcept;

  /// Recovery: the latest snapshot (or an empty state at seq 0), then `replay(after_seq, state)`, which
  /// applies the run's events with seq > after_seq to `state` and returns the seq of the last one applied
  /// (after_seq when there were none). Returns the recovered state; saves nothing.
  using replay_function = std::function<result<std::uint64_t>(std::uint64_t after_seq, std::string& state)>;
  [[nodiscard]] result<run_snapshot> recover(std::string_view run_id, const replay_function& replay) const noexcept;

 private:
  store* store_;
};

}  // namespace tessel
