// GNU build-ids (NT_GNU_BUILD_ID notes) as perf records them in
// HEADER_BUILD_ID: from an ELF file's note segments or sections, from a raw
// note stream (/sys/kernel/notes, /sys/module/M/notes/.note.gnu.build-id),
// or from an ELF image in this process's memory (the vDSO).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace kvmlens {

// Empty when there is none or the file cannot be read.
std::vector<uint8_t> build_id_from_notes(const uint8_t* notes, size_t size);
std::vector<uint8_t> build_id_from_notes_file(const std::string& path);
std::vector<uint8_t> build_id_from_elf_file(const std::string& path);
std::vector<uint8_t> build_id_from_elf_image(const uint8_t* image, size_t size);
// The build-id of the vDSO mapped into this process (the same kernel's).
std::vector<uint8_t> vdso_build_id();
// The vDSO's pages as mapped into this process (what perf caches as [vdso]).
std::vector<uint8_t> vdso_image();

std::string build_id_hex(const std::vector<uint8_t>& id);

}  // namespace kvmlens
