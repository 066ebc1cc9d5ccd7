// ReuseportBalancer: the eBPF program (assembled here, 25 instructions), its two maps, and the
// updates of the sockets it hands connections to.
#include "daemon/listeners/reuseport_balancer.hpp"

#include <linux/bpf.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>

namespace pmx::daemon {
namespace {

long bpf(int cmd, bpf_attr& attr) { return ::syscall(SYS_bpf, cmd, &attr, sizeof attr); }

bpf_insn insn(std::uint8_t code, std::uint8_t dst, std::uint8_t src, std::int16_t off, std::int32_t imm) {
  bpf_insn i{};
  i.code = code;
  i.dst_reg = dst & 0xf;
  i.src_reg = src & 0xf;
  i.off = off;
  i.imm = imm;
  return i;
}

int create_map(bpf_map_type type, std::uint32_t value_size, std::uint32_t entries) {
  bpf_attr attr{};
  attr.map_type = type;
  attr.key_size = sizeof(std::uint32_t);
  attr.value_size = value_size;
  attr.max_entries = entries;
  return static_cast<int>(bpf(BPF_MAP_CREATE, attr));
}

int update(int map, std::uint32_t key, const void* value) {
  bpf_attr attr{};
  attr.map_fd = static_cast<std::uint32_t>(map);
  attr.key = reinterpret_cast<std::uintptr_t>(&key);
  attr.value = reinterpret_cast<std::uintptr_t>(value);
  attr.flags = BPF_ANY;
  return static_cast<int>(bpf(BPF_MAP_UPDATE_ELEM, attr));
}

void erase(int map, std::uint32_t key) {
  bpf_attr attr{};
  attr.map_fd = static_cast<std::uint32_t>(map);
  attr.key = reinterpret_cast<std::uintptr_t>(&key);
  bpf(BPF_MAP_DELETE_ELEM, attr);
}

/// control: {u32 next, u32 count}. For each connection (and each one a closing socket leaves
/// behind): i = next++ % count; select sockets[i]; SK_PASS either way, so that a failed pick
/// (no active socket, a socket closed meanwhile) falls back to the kernel's hash.
int load_program(int control, int sockets) {
  constexpr std::uint8_t r0 = 0, r1 = 1, r2 = 2, r3 = 3, r4 = 4, r6 = 6, r10 = 10;
  const bpf_insn program[] = {
      insn(BPF_ALU64 | BPF_MOV | BPF_X, r6, r1, 0, 0),                   // 0: r6 = ctx
      insn(BPF_ST | BPF_MEM | BPF_W, r10, 0, -4, 0),                     // 1: key = 0
      insn(BPF_LD | BPF_DW | BPF_IMM, r1, BPF_PSEUDO_MAP_FD, 0, control),  // 2: r1 = &control
      insn(0, 0, 0, 0, 0),                                               // 3
      insn(BPF_ALU64 | BPF_MOV | BPF_X, r2, r10, 0, 0),                  // 4: r2 = &key
      insn(BPF_ALU64 | BPF_ADD | BPF_K, r2, 0, 0, -4),                   // 5
      insn(BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_map_lookup_elem),       // 6
      insn(BPF_JMP | BPF_JEQ | BPF_K, r0, 0, 15, 0),                     // 7: no entry: pass
      insn(BPF_LDX | BPF_MEM | BPF_W, r1, r0, 4, 0),                     // 8: r1 = count
      insn(BPF_JMP | BPF_JEQ | BPF_K, r1, 0, 13, 0),                     // 9: none active: pass
      insn(BPF_LDX | BPF_MEM | BPF_W, r2, r0, 0, 0),                     // 10: r2 = next
      insn(BPF_ALU64 | BPF_MOV | BPF_X, r3, r2, 0, 0),                   // 11
      insn(BPF_ALU64 | BPF_ADD | BPF_K, r3, 0, 0, 1),                    // 12
      insn(BPF_STX | BPF_MEM | BPF_W, r0, r3, 0, 0),                     // 13: next = r2 + 1
      insn(BPF_ALU | BPF_MOD | BPF_X, r2, r1, 0, 0),                     // 14: r2 %= count
      insn(BPF_STX | BPF_MEM | BPF_W, r10, r2, -8, 0),                   // 15: index = r2
      insn(BPF_ALU64 | BPF_MOV | BPF_X, r1, r6, 0, 0),                   // 16: r1 = ctx
      insn(BPF_LD | BPF_DW | BPF_IMM, r2, BPF_PSEUDO_MAP_FD, 0, sockets),  // 17: r2 = &sockets
      insn(0, 0, 0, 0, 0),                                               // 18
      insn(BPF_ALU64 | BPF_MOV | BPF_X, r3, r10, 0, 0),                  // 19: r3 = &index
      insn(BPF_ALU64 | BPF_ADD | BPF_K, r3, 0, 0, -8),                   // 20
      insn(BPF_ALU64 | BPF_MOV | BPF_K, r4, 0, 0, 0),                    // 21: flags = 0
      insn(BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_sk_select_reuseport),   // 22
      insn(BPF_ALU64 | BPF_MOV | BPF_K, r0, 0, 0, SK_PASS),              // 23: pass
      insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0),                              // 24
  };
  static const char license[] = "GPL";  // the kernel's term for "may call any helper"; pmx's own licence is not it
  bpf_attr attr{};
  attr.prog_type = BPF_PROG_TYPE_SK_REUSEPORT;
  attr.expected_attach_type = BPF_SK_REUSEPORT_SELECT_OR_MIGRATE;
  attr.insns = reinterpret_cast<std::uintptr_t>(program);
  attr.insn_cnt = sizeof program / sizeof program[0];
  attr.license = reinterpret_cast<std::uintptr_t>(license);
  return static_cast<int>(bpf(BPF_PROG_LOAD, attr));
}

std::error_code last_error() { return {errno, std::generic_category()}; }

}  // namespace

std::unique_ptr<ReuseportBalancer> ReuseportBalancer::create(int fd, std::error_code& ec) {
  std::unique_ptr<ReuseportBalancer> b(new ReuseportBalancer);
  b->control_ = create_map(BPF_MAP_TYPE_ARRAY, 2 * sizeof(std::uint32_t), 1);
  if (b->control_ < 0) return ec = last_error(), nullptr;
  b->sockets_ = create_map(BPF_MAP_TYPE_REUSEPORT_SOCKARRAY, sizeof(std::uint64_t), kMaxSockets);
  if (b->sockets_ < 0) return ec = last_error(), nullptr;
  b->prog_ = load_program(b->control_, b->sockets_);
  if (b->prog_ < 0) return ec = last_error(), nullptr;
  if (::setsockopt(fd, SOL_SOCKET, SO_ATTACH_REUSEPORT_EBPF, &b->prog_, sizeof b->prog_) != 0) {
    return ec = last_error(), nullptr;
  }
  ec.clear();
  return b;
}

ReuseportBalancer::~ReuseportBalancer() {
  for (int fd : {prog_, control_, sockets_}) {
    if (fd >= 0) ::close(fd);
  }
}

std::error_code ReuseportBalancer::set_active(const std::vector<int>& fds) {
  // A socket sits in at most one entry of the map (another write of it fails with EBUSY): the
  // entries that change are emptied before they are written. Meanwhile the turn goes round
  // the entries that stay (the kernel's hash when none does), so a socket taken out gets no
  // connection from the moment its entry is emptied.
  const std::size_t n = fds.size() < kMaxSockets ? fds.size() : kMaxSockets;
  std::size_t same = 0;
  while (same < n && same < written_.size() && written_[same] == fds[same]) ++same;
  std::error_code ec;
  auto set_count = [&](std::size_t count) {
    const std::uint32_t control[2] = {0, static_cast<std::uint32_t>(count)};
    if (update(control_, 0, control) != 0 && !ec) ec = last_error();
  };
  if (same == n && same == written_.size()) return ec;
  set_count(same);
  for (std::size_t i = same; i < written_.size(); ++i) erase(sockets_, static_cast<std::uint32_t>(i));
  written_.resize(same);
  for (std::size_t i = same; i < n; ++i) {
    const std::uint64_t value = static_cast<std::uint64_t>(fds[i]);
    if (update(sockets_, static_cast<std::uint32_t>(i), &value) != 0) {
      if (!ec) ec = last_error();
      break;
    }
    written_.push_back(fds[i]);
  }
  set_count(written_.size());
  return ec;
}

}  // namespace pmx::daemon
