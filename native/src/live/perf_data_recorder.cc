#include "live/perf_data_recorder.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "core/errors.h"
#include "live/host_info.h"

namespace kvmlens {

namespace {

constexpr uint64_t kHeaderSize = 104;
constexpr size_t kPipeBuffer = 1 << 16;

// perf_header_string: u32 length (padded to 64), then the NUL-padded text.
void put_string(std::vector<uint8_t>* out, const std::string& s) {
  uint32_t len = static_cast<uint32_t>((s.size() + 1 + 63) & ~size_t(63));
  const uint8_t* p = reinterpret_cast<const uint8_t*>(&len);
  out->insert(out->end(), p, p + 4);
  out->insert(out->end(), s.begin(), s.end());
  out->insert(out->end(), len - s.size(), 0);
}

template <class T>
void put(std::vector<uint8_t>* out, T v) {
  const uint8_t* p = reinterpret_cast<const uint8_t*>(&v);
  out->insert(out->end(), p, p + sizeof v);
}

}  // namespace

PerfDataRecorder::PerfDataRecorder(const std::string& path, const std::vector<perf_event_attr>& kernel_attrs,
                                   const std::vector<EventAttr>& attrs, std::vector<uint8_t> tracing_blob,
                                   std::vector<std::string> cmdline)
    : path_(path), pipe_(path == "-"), kernel_attrs_(kernel_attrs), attrs_(attrs), tracing_(std::move(tracing_blob)),
      cmdline_(std::move(cmdline)) {
  if (pipe_) {
    // Our own descriptor of standard output: closing it leaves Node's alone.
    // It shares Node's file description, which is non-blocking on a pipe:
    // flush_pipe() waits for a slow reader instead of failing on EAGAIN.
    pipe_fd_ = ::fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 0);
    if (pipe_fd_ < 0) throw SetupError(std::string("cannot write to standard output: ") + std::strerror(errno));
    pipe_buf_.reserve(kPipeBuffer);
    write_pipe_head();
    flush_pipe();
    return;
  }
  f_ = std::fopen(path.c_str(), "wb");
  if (!f_) throw SetupError("cannot create " + path + ": " + std::strerror(errno));
  std::vector<uint8_t> head(kHeaderSize, 0);
  write(head.data(), head.size());
  // Attrs, each followed by the file section of its ids; the ids after them.
  const uint64_t attr_entry = sizeof(perf_event_attr) + 16;
  uint64_t ids_off = kHeaderSize + attr_entry * kernel_attrs_.size();
  for (size_t i = 0; i < kernel_attrs_.size(); i++) {
    write(&kernel_attrs_[i], sizeof(perf_event_attr));
    uint64_t sect[2] = {ids_off, 8 * attrs_[i].ids.size()};
    write(sect, sizeof sect);
    ids_off += sect[1];
  }
  for (const EventAttr& a : attrs_) write(a.ids.data(), 8 * a.ids.size());
  data_offset_ = ids_off;
}

// Pipe mode (`-o -`), as perf record writes it: a 16-byte header, then
// everything the file header points at comes as records before the data:
// HEADER_ATTR (with the ids), HEADER_TRACING_DATA and a HEADER_FEATURE per
// feature. Features known only at the end (build-ids) follow the data.
void PerfDataRecorder::write_pipe_head() {
  const uint64_t head[2] = {0x32454c4946524550ULL, 16};  // "PERFILE2", header size
  write(head, sizeof head);
  for (size_t i = 0; i < kernel_attrs_.size(); i++) {
    perf_event_header h{};
    h.type = 64;  // PERF_RECORD_HEADER_ATTR
    const size_t size = sizeof h + sizeof(perf_event_attr) + 8 * attrs_[i].ids.size();
    if (size > 0xffff) throw SetupError("too many event ids for a pipe-mode HEADER_ATTR record");
    h.size = static_cast<uint16_t>(size);
    write(&h, sizeof h);
    write(&kernel_attrs_[i], sizeof(perf_event_attr));
    write(attrs_[i].ids.data(), 8 * attrs_[i].ids.size());
  }
  if (!tracing_.empty()) {
    // HEADER_TRACING_DATA: u32 size and padding in the record, the blob
    // right after it, outside the record's own size, padded to 8 bytes;
    // the size counts the padding (perf checks that it does).
    perf_event_header h{};
    h.type = 66;
    h.size = 16;
    const size_t padding = (8 - tracing_.size() % 8) % 8;
    const uint32_t body[2] = {static_cast<uint32_t>(tracing_.size() + padding), 0};
    write(&h, sizeof h);
    write(body, sizeof body);
    write(tracing_.data(), tracing_.size());
    const uint8_t pad[8] = {0};
    write(pad, padding);
  }
  for (auto& [bit, payload] : common_features()) write_feature_record(bit, payload);
}

// HEADER_BUILD_ID's file section is a run of build_id_event records whose
// header type perf leaves 0; in a pipe each is a PERF_RECORD_HEADER_BUILD_ID.
void PerfDataRecorder::write_build_id_records(std::vector<uint8_t>* section) {
  size_t off = 0;
  while (off + sizeof(perf_event_header) <= section->size()) {
    perf_event_header h;
    std::memcpy(&h, section->data() + off, sizeof h);
    if (h.size < sizeof h || h.size > section->size() - off) break;
    h.type = 67;
    std::memcpy(section->data() + off, &h, sizeof h);
    off += h.size;
  }
  write(section->data(), off);
}

void PerfDataRecorder::write_feature_record(int bit, const std::vector<uint8_t>& payload) {
  perf_event_header h{};
  h.type = 80;  // PERF_RECORD_HEADER_FEATURE: u64 feature bit, then the section's bytes
  const size_t size = sizeof h + 8 + payload.size();
  if (size > 0xffff) return;  // does not fit a record; perf skips such features too
  h.size = static_cast<uint16_t>(size);
  const uint64_t feature = static_cast<uint64_t>(bit);
  write(&h, sizeof h);
  write(&feature, sizeof feature);
  write(payload.data(), payload.size());
}

PerfDataRecorder::~PerfDataRecorder() {
  if (!closed_) {
    try {
      close();
    } catch (...) {
    }
  }
}

void PerfDataRecorder::write(const void* p, size_t n) {
  if (!n) return;
  if (pipe_fd_ >= 0) {
    const uint8_t* b = static_cast<const uint8_t*>(p);
    pipe_buf_.insert(pipe_buf_.end(), b, b + n);
    if (pipe_buf_.size() >= kPipeBuffer) flush_pipe();
    return;
  }
  if (std::fwrite(p, 1, n, f_) != n) io_error_ = true;
}

void PerfDataRecorder::flush_pipe() {
  size_t off = 0;
  while (off < pipe_buf_.size() && !io_error_) {
    const ssize_t w = ::write(pipe_fd_, pipe_buf_.data() + off, pipe_buf_.size() - off);
    if (w > 0) {
      off += static_cast<size_t>(w);
    } else if (w < 0 && errno == EINTR) {
      continue;
    } else if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      pollfd pfd{pipe_fd_, POLLOUT, 0};
      if (::poll(&pfd, 1, -1) < 0 && errno != EINTR) io_error_ = true;
      else if (pfd.revents & (POLLERR | POLLHUP)) io_error_ = true;
    } else {
      io_error_ = true;
    }
  }
  pipe_buf_.clear();
}

void PerfDataRecorder::on_record(const uint8_t* record, uint32_t size) {
  uint32_t type;
  std::memcpy(&type, record, 4);
  if (type == PERF_RECORD_SAMPLE) samples_++;
  if (type == PERF_RECORD_LOST && size >= 24) {
    uint64_t n;
    std::memcpy(&n, record + 16, 8);
    lost_ += n;
  }
  write(record, size);
  data_size_ += size;
}

void PerfDataRecorder::on_pass_end() {
  perf_event_header h{};
  h.type = 68;  // PERF_RECORD_FINISHED_ROUND
  h.size = sizeof h;
  write(&h, sizeof h);
  data_size_ += sizeof h;
  if (pipe_fd_ >= 0) flush_pipe();  // a pipe's reader gets each round as it ends
}

void PerfDataRecorder::add_feature(int bit, std::vector<uint8_t> payload) {
  extra_features_.push_back({bit, std::move(payload)});
}

std::vector<std::pair<int, std::vector<uint8_t>>> PerfDataRecorder::common_features() const {
  struct utsname u;
  ::uname(&u);
  std::vector<std::pair<int, std::vector<uint8_t>>> features;
  auto string_feature = [&](int bit, const std::string& s) {
    std::vector<uint8_t> b;
    put_string(&b, s);
    features.push_back({bit, b});
  };
  string_feature(3, u.nodename);
  string_feature(4, u.release);
  string_feature(5, "kvmlens 0.1.0");
  string_feature(6, u.machine);
  {
    std::vector<uint8_t> b;
    uint32_t n = static_cast<uint32_t>(online_cpus().size());
    put<uint32_t>(&b, static_cast<uint32_t>(::sysconf(_SC_NPROCESSORS_CONF)));  // available
    put<uint32_t>(&b, n);                                                       // online
    features.push_back({7, b});
  }
  string_feature(9, host_cpuid());
  {
    std::vector<uint8_t> b;
    put<uint32_t>(&b, static_cast<uint32_t>(cmdline_.size()));
    for (const std::string& s : cmdline_) put_string(&b, s);
    features.push_back({11, b});
  }
  {
    std::vector<uint8_t> b;
    put<uint32_t>(&b, static_cast<uint32_t>(attrs_.size()));
    put<uint32_t>(&b, static_cast<uint32_t>(sizeof(perf_event_attr)));
    for (size_t i = 0; i < attrs_.size(); i++) {
      const uint8_t* a = reinterpret_cast<const uint8_t*>(&kernel_attrs_[i]);
      b.insert(b.end(), a, a + sizeof(perf_event_attr));
      put<uint32_t>(&b, static_cast<uint32_t>(attrs_[i].ids.size()));
      put_string(&b, attrs_[i].name);
      for (uint64_t id : attrs_[i].ids) put<uint64_t>(&b, id);
    }
    features.push_back({12, b});
  }
  return features;
}

void PerfDataRecorder::close() {
  if (closed_) return;
  closed_ = true;
  // A closing FINISHED_ROUND, as perf record writes; it also keeps the data
  // section non-empty, which perf takes for an unterminated recording.
  on_pass_end();
  if (pipe_) {
    for (auto& [bit, payload] : extra_features_) {
      if (bit == 2) write_build_id_records(&payload);
      else write_feature_record(bit, payload);
    }
    flush_pipe();
    if (::close(pipe_fd_) != 0) io_error_ = true;
    pipe_fd_ = -1;
    if (io_error_) throw SetupError("writing to standard output failed (the reader went away?)");
    return;
  }
  // Feature payloads, in feature-bit order.
  std::vector<std::pair<int, std::vector<uint8_t>>> features = common_features();
  if (!tracing_.empty()) features.push_back({1, tracing_});
  for (auto& extra : extra_features_) features.push_back(std::move(extra));
  std::stable_sort(features.begin(), features.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  const uint64_t table_off = data_offset_ + data_size_;
  uint64_t payload_off = table_off + 16 * features.size();
  uint64_t bitmap[4] = {0, 0, 0, 0};
  for (auto& [bit, payload] : features) {
    uint64_t entry[2] = {payload_off, payload.size()};
    write(entry, sizeof entry);
    payload_off += payload.size();
    bitmap[bit / 64] |= 1ull << (bit % 64);
  }
  for (auto& [bit, payload] : features) write(payload.data(), payload.size());
  // The header, now that every section is known.
  uint8_t head[kHeaderSize] = {0};
  std::memcpy(head, "PERFILE2", 8);
  uint64_t fields[] = {kHeaderSize, sizeof(perf_event_attr) + 16,
                       kHeaderSize, (sizeof(perf_event_attr) + 16) * kernel_attrs_.size(),
                       data_offset_, data_size_, 0, 0};
  std::memcpy(head + 8, fields, sizeof fields);
  std::memcpy(head + 72, bitmap, sizeof bitmap);
  if (std::fseek(f_, 0, SEEK_SET) != 0) io_error_ = true;
  write(head, sizeof head);
  if (std::fclose(f_) != 0) io_error_ = true;
  f_ = nullptr;
  if (io_error_) throw SetupError("writing " + path_ + " failed (disk full?)");
}

}  // namespace kvmlens
