// SPDX-License-Identifier: MIT OR Apache-2.0
// TLS with a certificate made at test time (openssl): a CA, and a server certificate it
// signed for 127.0.0.1.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>

#include "nats/support.hpp"

namespace {

using namespace nats_test;
using stakker::fwd_do;
using stakker::nats::options;

struct certificates {
  std::filesystem::path dir;
  certificates() {
    char tmpl[] = "/tmp/stakker-tls-XXXXXX";
    char* d = ::mkdtemp(tmpl);
    if (d == nullptr) throw std::runtime_error("mkdtemp failed");
    dir = d;
    std::string q = "cd '" + dir.string() + "' && ";
    std::string quiet = " > /dev/null 2>&1";
    run(q +
        "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=stakker-test-ca "
        "-keyout ca.key -out ca.pem" +
        quiet);
    run(q +
        "openssl req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -keyout server.key "
        "-out server.csr" +
        quiet);
    run(q + "printf 'subjectAltName=IP:127.0.0.1' > san.ext");
    run(q +
        "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 1 "
        "-extfile san.ext -out server.pem" +
        quiet);
  }
  ~certificates() {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
  static void run(const std::string& cmd) {
    if (std::system(cmd.c_str()) != 0) throw std::runtime_error("failed: " + cmd);
  }
  std::string file(const char* name) const { return (dir / name).string(); }
};

std::vector<std::string> tls_args(const certificates& c) {
  return {"--tls", "--tlscert", c.file("server.pem"), "--tlskey", c.file("server.key")};
}

TEST(nats_tls, a_server_certificate_signed_by_the_given_ca_is_accepted_and_messages_flow) {
  certificates certs;
  server s(tls_args(certs));
  env e;
  watch w;
  options o;
  o.servers = {"tls://127.0.0.1:" + std::to_string(s.port())};
  o.secure = true;
  o.ca_file = certs.file("ca.pem");
  auto c = e.connect(w, o);
  ASSERT_TRUE(w.ready);
  ASSERT_TRUE(w.ready->has_value()) << w.ready->error().what();
  int n = 0;
  std::string big(100000, 'z');  // more than one TLS record
  auto sub = c->subscribe("secure", fwd_do<message>([&](message m) {
                            if (m.data() == big) ++n;
                          }));
  for (int i = 0; i < 50; ++i) c->publish("secure", big);
  ASSERT_TRUE(e.until([&] { return n == 50; }));
}

TEST(nats_tls, a_server_the_client_cannot_verify_is_refused_with_a_clear_error) {
  certificates certs;
  server s(tls_args(certs));
  env e;
  watch w;
  options o;
  o.servers = {"tls://127.0.0.1:" + std::to_string(s.port())};
  o.secure = true;  // the system's CAs, which did not sign the test's certificate
  auto c = e.connect(w, o);
  ASSERT_TRUE(w.ready);
  ASSERT_FALSE(w.ready->has_value());
  EXPECT_NE(nats_error(w.ready->error()), nullptr);
  EXPECT_TRUE(c->is_closed());
}

}  // namespace
