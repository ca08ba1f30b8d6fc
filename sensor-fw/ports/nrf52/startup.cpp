// SPDX-License-Identifier: Apache-2.0
// Cortex-M4F start-up for nRF52840 (and qemu mps2-an386): vector table, FPU
// enable, .data/.bss set-up, static constructors, main(). Plus the runtime
// stubs a C++ build without libstdc++ needs.
#include <stdint.h>
#include <string.h>

extern "C" {
extern uint32_t __etext, __data_start__, __data_end__, __bss_start__, __bss_end__, __stack_top__;
extern void (*__init_array_start[])(void);
extern void (*__init_array_end[])(void);
int vigil_main();  // the port's entry (C++ may not call main)
void Reset_Handler();
void Default_Handler();
void HardFault_Handler();
}

__attribute__((noreturn)) void Default_Handler() {
  for (;;) __asm volatile("wfi");
}
// A fault in a test run must end qemu, not hang it: semihosting exit(1).
__attribute__((weak, noreturn)) void HardFault_Handler() { Default_Handler(); }

__attribute__((section(".isr_vector"), used)) void (*const g_vectors[16 + 48])() = {
    reinterpret_cast<void (*)()>(&__stack_top__),
    Reset_Handler,
    Default_Handler,    // NMI
    HardFault_Handler,  // HardFault
    Default_Handler, Default_Handler, Default_Handler, nullptr, nullptr, nullptr, nullptr,
    Default_Handler,  // SVC
    Default_Handler, nullptr,
    Default_Handler,  // PendSV
    Default_Handler,  // SysTick
    // 48 nRF52840 peripheral interrupts, all unused by the core.
    Default_Handler, Default_Handler, Default_Handler, Default_Handler, Default_Handler, Default_Handler,
    Default_Handler, Default_Handler, Default_Handler, Default_Handler, Default_Handler, Default_Handler,
    Default_Handler, Default_Handler, Default_Handler, Default_Handler, Default_Handler, Default_Handler,
    Default_Handler, Default_Handler, Default_Handler, Default_Handler, Default_Handler, Default_Handler,
    Default_Handler, Default_Handler, Default_Handler, Default_Handler, Default_Handler, Default_Handler,
    Default_Handler, Default_Handler, Default_Handler, Default_Handler, Default_Handler, Default_Handler,
    Default_Handler, Default_Handler, Default_Handler, Default_Handler, Default_Handler, Default_Handler,
    Default_Handler, Default_Handler, Default_Handler, Default_Handler, Default_Handler, Default_Handler,
};

extern "C" __attribute__((noreturn, used)) void Reset_Handler() {
  // FPU: full access to CP10/CP11 before any float instruction.
  *reinterpret_cast<volatile uint32_t*>(0xE000ED88) |= 0xFu << 20;
  __asm volatile("dsb\n isb");
  uint32_t* src = &__etext;
  for (uint32_t* dst = &__data_start__; dst < &__data_end__;) *dst++ = *src++;
  for (uint32_t* dst = &__bss_start__; dst < &__bss_end__;) *dst++ = 0;
  for (auto f = __init_array_start; f < __init_array_end; ++f) (*f)();
  vigil_main();
  Default_Handler();
}

// Runtime stubs: no heap, no exceptions (toolchain.md).
void operator delete(void*) noexcept {}
void operator delete(void*, unsigned int) noexcept {}
extern "C" void __cxa_pure_virtual() { Default_Handler(); }
extern "C" int __aeabi_atexit(void*, void (*)(void*), void*) { return 0; }
void* __dso_handle = nullptr;
