// SPDX-License-Identifier: Apache-2.0
#include "protocol/ccm.h"

#include <openssl/evp.h>

namespace vigil::protocol {

struct CcmCipher::Impl {
  EVP_CIPHER* cipher = nullptr;
  EVP_CIPHER_CTX* ctx = nullptr;
  Impl() {
    // Fetch once: implicit fetching on every init is a large part of the cost.
    cipher = EVP_CIPHER_fetch(nullptr, "AES-128-CCM", nullptr);
    ctx = EVP_CIPHER_CTX_new();
  }
  ~Impl() {
    EVP_CIPHER_CTX_free(ctx);
    EVP_CIPHER_free(cipher);
  }
};

CcmCipher::CcmCipher() : impl_(std::make_unique<Impl>()) {}
CcmCipher::~CcmCipher() = default;

bool CcmCipher::decrypt(const Key& key, const Nonce& nonce, Bytes ct, Bytes mic,
                        std::span<std::uint8_t> out) {
  if (!impl_->cipher || !impl_->ctx || mic.size() != kMicSize || out.size() != ct.size()) return false;
  EVP_CIPHER_CTX* c = impl_->ctx;
  int len = 0;
  if (EVP_DecryptInit_ex(c, impl_->cipher, nullptr, nullptr, nullptr) != 1) return false;
  if (EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_IVLEN, static_cast<int>(nonce.size()), nullptr) != 1) return false;
  if (EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_TAG, static_cast<int>(kMicSize),
                          const_cast<std::uint8_t*>(mic.data())) != 1)
    return false;
  if (EVP_DecryptInit_ex(c, nullptr, nullptr, key.data(), nonce.data()) != 1) return false;
  if (EVP_DecryptUpdate(c, nullptr, &len, nullptr, static_cast<int>(ct.size())) != 1) return false;
  // CCM needs a non-null output pointer even for empty input.
  std::uint8_t dummy = 0;
  std::uint8_t* o = out.empty() ? &dummy : out.data();
  const std::uint8_t* in = ct.empty() ? &dummy : ct.data();
  return EVP_DecryptUpdate(c, o, &len, in, static_cast<int>(ct.size())) == 1;
}

bool CcmCipher::encrypt(const Key& key, const Nonce& nonce, Bytes pt, std::span<std::uint8_t> out,
                        std::span<std::uint8_t, kMicSize> mic) {
  if (!impl_->cipher || !impl_->ctx || out.size() != pt.size()) return false;
  EVP_CIPHER_CTX* c = impl_->ctx;
  int len = 0;
  if (EVP_EncryptInit_ex(c, impl_->cipher, nullptr, nullptr, nullptr) != 1) return false;
  if (EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_IVLEN, static_cast<int>(nonce.size()), nullptr) != 1) return false;
  if (EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_TAG, static_cast<int>(kMicSize), nullptr) != 1) return false;
  if (EVP_EncryptInit_ex(c, nullptr, nullptr, key.data(), nonce.data()) != 1) return false;
  if (EVP_EncryptUpdate(c, nullptr, &len, nullptr, static_cast<int>(pt.size())) != 1) return false;
  std::uint8_t dummy = 0;
  std::uint8_t* o = out.empty() ? &dummy : out.data();
  const std::uint8_t* in = pt.empty() ? &dummy : pt.data();
  if (EVP_EncryptUpdate(c, o, &len, in, static_cast<int>(pt.size())) != 1) return false;
  if (EVP_EncryptFinal_ex(c, o, &len) != 1) return false;
  return EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_GET_TAG, static_cast<int>(kMicSize), mic.data()) == 1;
}

}  // namespace vigil::protocol
