// Copyright 2025 NetApp Inc. All Rights Reserved.
//
// Licensed under the Apache License, Version 2.0 (the "License");
// you may not use this file except in compliance with the License.
// You may obtain a copy of the License at
//
//     http://www.apache.org/licenses/LICENSE-2.0
//
// Unless required by applicable law or agreed to in writing, software
// distributed under the License is distributed on an "AS IS" BASIS,
// WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
// See the License for the specific language governing permissions and
// limitations under the License.
//
// SPDX-License-Identifier: Apache-2.0

use super::{Mount, READLINK3args, Result, bytes_to_string, nfs_fh3};
use bytes::Bytes;

#[allow(unused)]
impl Mount {
    pub async fn readlink_path(&self, path: &str) -> Result<String> {
        self.readlink(self.lookup_path(path).await?.fh).await
    }

    pub async fn readlink(&self, fh: Bytes) -> Result<String> {
        let args = READLINK3args {
            symlink: nfs_fh3 { data: fh },
        };
        let ok = self._readlink(args).await?;
        // ok.data is nfspath3<Bytes>; .0 is the inner Bytes
        Ok(bytes_to_string(ok.data.0))
    }
}
