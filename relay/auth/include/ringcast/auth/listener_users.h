// Icecast's duplicate-user rule for users-file listeners: who listens to a mount now, by name.
#pragma once

#include <mutex>
#include <string>
#include <unordered_set>

namespace ringcast::relay {

// The user names listening to a mount now, for Icecast's duplicate-user rule: a second
// listener under a user name already listening is refused unless the mount allows it. Any
// thread; one short lock each (at admission and when the listener leaves).
class ListenerUsers {
 public:
  // False: `user` is already listening here.
  bool try_add(const std::string& user) {
    std::lock_guard lock(mutex_);
    return users_.insert(user).second;
  }
  void remove(const std::string& user) {
    std::lock_guard lock(mutex_);
    users_.erase(user);
  }

 private:
  std::mutex mutex_;
  std::unordered_set<std::string> users_;
};

}  // namespace ringcast::relay
