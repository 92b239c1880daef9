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

use super::{COMMIT3args, Mount, NfsError, Result, nfs_fh3};
use bytes::Bytes;

impl Mount {
    pub async fn commit_with_verifier(
        &self,
        fh: Bytes,
        offset: u64,
        count: u32,
    ) -> Result<Option<[u8; 8]>> {
        let args = COMMIT3args {
            file: nfs_fh3 { data: fh },
            offset,
            count,
        };
        let verifier = self._commit(args).await?.verf.0;
        Ok(Some(verifier.as_ref().try_into().map_err(|_| {
            NfsError::Xdr("COMMIT verifier must be 8 bytes".to_string())
        })?))
    }

    pub async fn commit(&self, fh: Bytes, offset: u64, count: u32) -> Result<()> {
        let args = COMMIT3args {
            file: nfs_fh3 { data: fh },
            offset,
            count,
        };
        self._commit(args).await?;
        Ok(())
    }
}
