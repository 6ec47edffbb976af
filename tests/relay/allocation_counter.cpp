// The replaced global operator new behind allocations_so_far(). In a file of its own: where the
// compiler sees both the replacement and its callers, it mistakes malloc/free for a mismatch.
// Every unaligned form is replaced, so nothing allocated by one allocator is freed by another
// (AddressSanitizer checks). The aligned forms keep their defaults and stay uncounted.
#include "allocation_counter.h"

#include <atomic>
#include <cstdlib>
#include <new>

namespace {
std::atomic<std::uint64_t> allocations{0};

void* counted_allocation(std::size_t size) noexcept {
  allocations.fetch_add(1, std::memory_order_relaxed);  // a count, read after the fact: no pairing
  return std::malloc(size == 0 ? 1 : size);
}

void* counted_allocation_or_throw(std::size_t size) {
  if (void* memory = counted_allocation(size)) return memory;
  throw std::bad_alloc();
}
}  // namespace

std::uint64_t allocations_so_far() {
  return allocations.load(std::memory_order_relaxed);
}

void* operator new(std::size_t size) {
  return counted_allocation_or_throw(size);
}
void* operator new[](std::size_t size) {
  return counted_allocation_or_throw(size);
}
void* operator new(std::size_t size, const std::nothrow_t&) noexcept {
  return counted_allocation(size);
}
void* operator new[](std::size_t size, const std::nothrow_t&) noexcept {
  return counted_allocation(size);
}

void operator delete(void* memory) noexcept {
  std::free(memory);
}
void operator delete[](void* memory) noexcept {
  std::free(memory);
}
void operator delete(void* memory, std::size_t) noexcept {
  std::free(memory);
}
void operator delete[](void* memory, std::size_t) noexcept {
  std::free(memory);
}
void operator delete(void* memory, const std::nothrow_t&) noexcept {
  std::free(memory);
}
void operator delete[](void* memory, const std::nothrow_t&) noexcept {
  std::free(memory);
}
