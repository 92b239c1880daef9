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

use super::{ACCESS3args, Mount, Result, nfs_fh3};
use bytes::Bytes;

impl Mount {
    pub async fn access(&self, fh: Bytes, mode: u32) -> Result<u32> {
        let args = ACCESS3args {
            object: nfs_fh3 { data: fh },
            access: mode,
        };
        let ok = self._access(args).await?;
        Ok(ok.access)
    }
}
