#include "client_sdk/src/grpc_key_watch.h"

#include <system_error>
#include <utility>

#include "absl/strings/str_cat.h"
#include "client_sdk/src/grpc_status.h"
#include "common/error_reason.h"

namespace keybroker::sdk::internal {
namespace {

KeyEvent KeyEventOf(const v1::KeyEvent& event) {
  KeyEvent out;
  out.key = event.key();
  out.accessible = event.accessible();
  out.reason = event.reason();
  out.edek_key_name = event.edek_key_name();
  out.initial = event.initial();
  return out;
}

}  // namespace

GrpcKeyWatch::GrpcKeyWatch(std::shared_ptr<grpc::Channel> channel,
                           const std::vector<std::string>& keys, KeyEventCallback on_event,
                           KeyWatchBackoff backoff)
    : stub_(v1::KeyBroker::NewStub(std::move(channel))),
      on_event_(std::move(on_event)),
      backoff_(backoff.initial, backoff.max) {
  request_.mutable_keys()->Add(keys.begin(), keys.end());
  try {
    thread_ = std::thread([this] { Run(); });
  } catch (const std::system_error& e) {
    absl::MutexLock lock(&mu_);
    status_ = Internal(absl::StrCat("key watch: cannot start its thread: ", e.what()));
    stopped_ = true;
  }
}

GrpcKeyWatch::~GrpcKeyWatch() {
  {
    absl::MutexLock lock(&mu_);
    cancelled_ = true;
    // Wakes the blocked Read; the thread then finds cancelled_ set. A stream
    // not started yet is cancelled as it starts.
    if (context_ != nullptr) context_->TryCancel();
  }
  if (thread_.joinable()) thread_.join();
}

absl::Status GrpcKeyWatch::status() const {
  absl::MutexLock lock(&mu_);
  return status_;
}

bool GrpcKeyWatch::stopped() const {
  absl::MutexLock lock(&mu_);
  return stopped_;
}

void GrpcKeyWatch::Run() {
  while (true) {
    grpc::ClientContext context;
    {
      absl::MutexLock lock(&mu_);
      if (cancelled_) return;
      context_ = &context;
    }
    bool delivered = false;
    const grpc::Status ended = Stream(context, &delivered);
    if (!Ended(ended)) return;
    if (delivered) backoff_.Reset();
    // A broker that says when to come back (SERVER_BUSY at max_watch_streams)
    // is not asked sooner; nor much later than it said, whatever it said.
    const absl::Duration wait = WaitAfter(FromGrpcStatus(ended), backoff_.Next());
    absl::MutexLock lock(&mu_);
    mu_.AwaitWithTimeout(absl::Condition(&cancelled_), wait);
  }
}

grpc::Status GrpcKeyWatch::Stream(grpc::ClientContext& context, bool* delivered) {
  std::unique_ptr<grpc::ClientReader<v1::KeyEvent>> reader = stub_->WatchKeys(&context, request_);
  v1::KeyEvent event;
  while (reader->Read(&event)) {
    if (!*delivered) {
      *delivered = true;
      absl::MutexLock lock(&mu_);
      status_ = absl::OkStatus();
    }
    on_event_(KeyEventOf(event));
  }
  return reader->Finish();
}

bool GrpcKeyWatch::Ended(const grpc::Status& status) {
  absl::MutexLock lock(&mu_);
  context_ = nullptr;
  if (cancelled_) return false;
  if (status.error_code() == grpc::StatusCode::UNIMPLEMENTED) {
    status_ = Annotate(FromGrpcStatus(status),
                       "key watch: the broker has no WatchKeys (older than this SDK); cached "
                       "DEKs are dropped only when their TTLs expire");
    stopped_ = true;
    return false;
  }
  // The broker ends the stream only when it stops: as much an outage as an
  // error.
  status_ = status.ok() ? absl::UnavailableError("key watch: the broker ended the stream")
                        : Annotate(FromGrpcStatus(status), "key watch");
  return true;
}

}  // namespace keybroker::sdk::internal
